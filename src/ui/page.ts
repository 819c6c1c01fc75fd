/**
 * The web page's HTML and CSS, as strings, so that nothing but compiled TypeScript needs to reach
 * dist/. The HTML is a shell: main.ts (loaded as an ES module from Berth's own origin, the only
 * script the page's Content-Security-Policy allows) draws everything in it. No data is ever
 * written into these strings.
 */

/**
 * The page, loading `entry` (a path relative to /ui/) as its one script. Relative links, so that
 * the page also works behind a reverse proxy that serves Berth under a path prefix.
 */
export function uiPage(entry: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Berth</title>
<link rel="stylesheet" href="page.css">
<script type="module" src="${entry}"></script>
</head>
<body>
<header>
  <strong class="brand">Berth</strong>
  <nav>
    <a href="#/tasks">Tasks</a>
    <a href="#/runs">Workflow runs</a>
    <a href="#/runners">Runners</a>
    <a href="#/schedules">Schedules</a>
  </nav>
  <form id="key-form" autocomplete="off">
    <label>API key <input id="key-input" type="password" placeholder="none (loopback Berth)" size="24"></label>
    <button type="submit" id="key-save">Use key</button>
    <button type="button" id="key-forget">Forget</button>
    <span id="key-state"></span>
  </form>
</header>
<div id="notice" role="alert" hidden></div>
<main id="view"><p>Loading…</p></main>
</body>
</html>
`;
}

export const UI_CSS = `
:root { --fg: #1d2330; --muted: #6b7280; --line: #d9dde3; --bg: #f6f7f9; --accent: #2357c6;
  --queued: #8a94a6; --pending: #c3c9d3; --running: #2f7de1; --succeeded: #1f9d55; --failed: #d64545;
  --cancelled: #a06b2c; --skipped: #b9a7d6; font-family: system-ui, sans-serif; color: var(--fg); }
body { margin: 0; background: var(--bg); }
header { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; background: #fff; border-bottom: 1px solid var(--line); }
.brand { font-size: 1.2rem; }
nav a { margin-right: 1rem; color: var(--accent); text-decoration: none; }
nav a.current { font-weight: 600; text-decoration: underline; }
#key-form { margin-left: auto; display: flex; gap: .4rem; align-items: center; font-size: .9rem; }
#key-state { color: var(--muted); }
#notice { margin: .8rem 1.2rem 0; padding: .6rem .8rem; border: 1px solid var(--failed); background: #fdecec; color: #7a1d1d; border-radius: 4px; white-space: pre-wrap; }
main { padding: 1rem 1.2rem 3rem; }
h1 { font-size: 1.3rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 .5rem; }
table { border-collapse: collapse; background: #fff; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef0f3; font-weight: 600; }
pre { background: #fff; border: 1px solid var(--line); padding: .6rem; margin: 0; overflow: auto; max-height: 28rem; font-size: .85rem; white-space: pre-wrap; word-break: break-word; }
textarea { width: 100%; min-height: 7rem; font-family: ui-monospace, monospace; font-size: .85rem; box-sizing: border-box; }
button { cursor: pointer; padding: .3rem .8rem; }
.filters { display: flex; gap: 1rem; align-items: center; margin-bottom: .8rem; }
.actions { display: flex; gap: .5rem; margin: .6rem 0; }
.muted { color: var(--muted); }
.mono { font-family: ui-monospace, monospace; font-size: .85rem; }
.status { display: inline-block; padding: .05rem .5rem; border-radius: 1rem; color: #fff; font-size: .8rem; background: var(--queued); }
.status.pending { background: var(--pending); color: var(--fg); }
.status.running { background: var(--running); }
.status.succeeded { background: var(--succeeded); }
.status.failed { background: var(--failed); }
.status.cancelled { background: var(--cancelled); }
.status.skipped { background: var(--skipped); }
.fields { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; background: #fff; border: 1px solid var(--line); padding: .6rem .8rem; font-size: .9rem; }
.fields dt { color: var(--muted); }
.fields dd { margin: 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 4px; padding: .8rem 1rem; margin-bottom: 1rem; }
.card h2 { margin-top: 0; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.form-error { color: var(--failed); white-space: pre-wrap; }
svg.graph { background: #fff; border: 1px solid var(--line); max-width: 100%; }
svg.graph .edge { fill: none; stroke: #8a94a6; stroke-width: 1.5; }
svg.graph .node rect { stroke: rgba(0,0,0,.25); stroke-width: 1; rx: 6; fill: var(--queued); }
svg.graph .node text { font-size: 12px; fill: #fff; }
svg.graph .node .label { font-weight: 600; }
svg.graph .node.pending rect { fill: var(--pending); }
svg.graph .node.pending text { fill: var(--fg); }
svg.graph .node.running rect { fill: var(--running); }
svg.graph .node.succeeded rect { fill: var(--succeeded); }
svg.graph .node.failed rect { fill: var(--failed); }
svg.graph .node.cancelled rect { fill: var(--cancelled); }
svg.graph .node.skipped rect { fill: var(--skipped); }
svg.graph a:hover rect { stroke: #000; stroke-width: 2; }
`;
