-- Token buckets of the rate limits (one per API key, one per webhook client address), shared by
-- every API process. Unlogged: every limited request writes its bucket, and a bucket lost in a
-- crash only forgets how full it was, so WAL would cost more than the data is worth.
create unlogged table berth.rate_buckets (
  bucket text primary key,
  tokens float8 not null,
  updated_at timestamptz not null
);
