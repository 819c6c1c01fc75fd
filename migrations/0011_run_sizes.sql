-- As for tasks (0010): the bytes of a workflow run's input and output, written with them, so that
-- GET /workflows?fields=full can cut a page by size without reading every value.
alter table berth.workflow_runs add column input_bytes integer, add column output_bytes integer;
