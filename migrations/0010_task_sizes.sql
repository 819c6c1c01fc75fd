-- The bytes of a task's input and output, written with them, so that GET /tasks?fields=full can cut
-- a page by size from these numbers: json has no cast to text, so measuring a stored value reads it
-- whole. Tasks stored before this keep null and are measured by their stored (compressed) size.
alter table berth.tasks add column input_bytes integer, add column output_bytes integer;
