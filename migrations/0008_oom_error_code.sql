-- A task killed for exceeding its runner's memory limit fails with its own code, oom.
alter table berth.tasks drop constraint tasks_error_code_check;
alter table berth.tasks add constraint tasks_error_code_check
  check (error_code in ('nonzero_exit', 'timeout', 'invalid_output', 'output_too_large', 'engine_error', 'invalid_input', 'oom'));
