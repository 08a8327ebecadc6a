/** The dashboard's one stylesheet (allowed by hash in its CSP; the page has no style attributes). */
export const DASHBOARD_STYLE = `
  :root { --fg:#1d2329; --muted:#67717c; --line:#e3e7eb; --bg:#f7f8fa; --ok:#1f8a4c; --warn:#b7791f; --bad:#c53030; --unk:#718096; --prog:#2b6cb0; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
  header { display:flex; align-items:center; gap:16px; padding:12px 24px; background:#fff; border-bottom:1px solid var(--line); flex-wrap:wrap; }
  header h1 { font-size:17px; margin:0; }
  header nav { display:flex; gap:12px; }
  header nav a { color:var(--prog); text-decoration:none; }
  header nav a.current { font-weight:600; color:var(--fg); }
  header .rev { color:var(--muted); font-family:ui-monospace, monospace; }
  .live { font-size:12px; padding:1px 8px; border-radius:10px; background:var(--unk); color:#fff; }
  .live.on { background:var(--ok); }
  main { padding:20px 24px; display:grid; gap:20px; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); }
  section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:14px 16px; overflow:auto; }
  section h2 { font-size:14px; margin:0 0 10px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
  table { border-collapse:collapse; width:100%; }
  th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); white-space:nowrap; vertical-align:top; }
  th { font-weight:600; color:var(--muted); font-size:12px; }
  td.mono, .mono { font-family:ui-monospace, monospace; font-size:12px; }
  td.wrap { white-space:normal; }
  .pill { display:inline-block; padding:1px 8px; border-radius:10px; color:#fff; font-size:12px; }
  .Synced { background:var(--ok); } .OutOfSync { background:var(--warn); } .Failed { background:var(--bad); }
  .Unknown { background:var(--unk); } .Progressing { background:var(--prog); }
  .succeeded { background:var(--ok); } .failed, .timedOut { background:var(--bad); } .skipped { background:var(--unk); }
  .corrective { background:var(--warn); } .intentional { background:var(--prog); }
  .counts { display:flex; gap:10px; flex-wrap:wrap; }
  .count { padding:10px 14px; border-radius:6px; background:var(--bg); min-width:92px; }
  .count b { display:block; font-size:22px; }
  .errors { color:var(--bad); white-space:pre-wrap; font-family:ui-monospace, monospace; font-size:12px; }
  #login { padding:40px; text-align:center; }
  #login input { width:380px; padding:8px; font-family:ui-monospace, monospace; }
  [hidden] { display:none !important; }
  .muted { color:var(--muted); }
  .wide { grid-column:1/-1; }
  .running { background:var(--prog); } .paused { background:var(--warn); } .done { background:var(--ok); } .superseded { background:var(--unk); }
  progress { width:140px; height:10px; vertical-align:middle; accent-color:var(--ok); }
  .reason { color:var(--bad); white-space:normal; }
  pre { margin:4px 0; padding:8px; background:var(--bg); border-radius:4px; font-size:12px; white-space:pre-wrap; word-break:break-all; max-height:320px; overflow:auto; }
  pre.stderr { color:var(--bad); }
  .diff .add { color:var(--ok); } .diff .del { color:var(--bad); } .diff .hunk { color:var(--prog); }
  .plots { display:flex; gap:24px; flex-wrap:wrap; }
  .plot { min-width:240px; }
  .plot svg { display:block; background:var(--bg); border-radius:4px; }
  .plot polyline { fill:none; stroke:var(--prog); stroke-width:1.5; }
  .plot circle { fill:var(--prog); }
  .timeline { list-style:none; margin:0; padding:0 0 0 12px; border-left:2px solid var(--line); }
  .timeline li { margin:0 0 10px; }
  dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:3px 14px; margin:0; }
  dl.facts dt { color:var(--muted); }
  dl.facts dd { margin:0; font-family:ui-monospace, monospace; font-size:12px; }
`;
