using System.Net;
using EdgeRelay.Appliance.Leds;
using EdgeRelay.Appliance.Status;

namespace EdgeRelay.Appliance.Web;

/// <summary>
/// The status page: one self-contained document (inline style and script, no external fetch but its own
/// /api/status), so it works on a LAN with no internet. It polls every two seconds and mirrors the LEDs.
/// </summary>
internal static class StatusPageHtml
{
    /// <summary>The page, with the legend and the reason codes drawn from the code that defines them.</summary>
    public static string Page { get; } = Template
        .Replace("<!--LEGEND-->", string.Concat(LedLegend.Rows().Select(r => Row(r.State, r.MultiLed, r.SingleLed))), StringComparison.Ordinal)
        .Replace("<!--CODES-->", string.Concat(StatusReasons.All.Select(r => Row(r.Code, r.Summary))), StringComparison.Ordinal);

    private static string Row(params string[] cells) =>
        "    <tr>" + string.Concat(cells.Select(c => $"<td>{WebUtility.HtmlEncode(c)}</td>")) + "</tr>\n";

    private const string Template = """
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>EdgeRelay</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 14px 20px; display: flex; align-items: center; gap: 18px; }
  header h1 { font-size: 18px; margin: 0; }
  main { padding: 16px 20px; display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 14px; }
  section { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px #0002; }
  h2 { font-size: 14px; text-transform: uppercase; letter-spacing: .05em; color: #667; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; } td { padding: 3px 6px 3px 0; vertical-align: top; }
  td:first-child { color: #667; white-space: nowrap; }
  code, pre { font: 12px ui-monospace, monospace; background: #eef0f3; border-radius: 4px; padding: 2px 4px; }
  pre { padding: 8px; white-space: pre-wrap; word-break: break-all; }
  #health { font-weight: 600; padding: 3px 10px; border-radius: 12px; background: #888; }
  .Relaying, .HealthyIdle { background: #1f9d55 !important; } .Starting { background: #d69e2e !important; }
  .Degraded { background: #dd6b20 !important; } .Fault { background: #c53030 !important; }
  .leds { display: flex; gap: 10px; }
  .led { width: 18px; height: 18px; border-radius: 50%; background: #333; border: 2px solid #555; }
  .led.green.on { background: #38d46a; box-shadow: 0 0 10px #38d46a; }
  .led.amber.on { background: #f6ad35; box-shadow: 0 0 10px #f6ad35; }
  .led.red.on { background: #f24848; box-shadow: 0 0 10px #f24848; }
  .alternate { animation: blink 2s steps(1) infinite; } .alternate.late { animation-delay: -1s; }
  .blink { animation: blink 1s steps(1) infinite; } .flicker { animation: flicker .7s steps(1) infinite; }
  @keyframes blink { 50% { background: #333; box-shadow: none; } }
  @keyframes flicker { 90% { background: #333; box-shadow: none; } }
  ul { margin: 0; padding-left: 18px; }
  form { display: grid; grid-template-columns: auto 1fr; gap: 6px 8px; align-items: center; margin-bottom: 8px; }
  input { font: inherit; padding: 3px 6px; border: 1px solid #ccd; border-radius: 4px; }
  button { font: inherit; padding: 4px 12px; border: 0; border-radius: 4px; background: #1d2330; color: #fff; cursor: pointer; }
  .PASS { color: #1f9d55; } .FAIL { color: #c53030; } .SKIP { color: #667; }
</style>
</head>
<body>
<header>
  <h1>EdgeRelay</h1>
  <span id="health">loading</span>
  <div class="leds" title="mirror of the box's LEDs">
    <div id="led-green" class="led green"></div><div id="led-amber" class="led amber"></div><div id="led-red" class="led red"></div>
  </div>
  <span id="ledtext"></span>
</header>
<main>
  <section><h2>Health</h2><div id="summary"></div><ul id="reasons"></ul></section>
  <section><h2>Relay</h2><table>
    <tr><td>Allocations</td><td id="allocations"></td></tr>
    <tr><td>By transport</td><td id="transports"></td></tr>
    <tr><td>Relayed</td><td id="rate"></td></tr>
    <tr><td>Totals</td><td id="totals"></td></tr>
    <tr><td>Listeners</td><td id="listeners"></td></tr>
    <tr><td>New allocations</td><td id="draining"></td></tr>
  </table></section>
  <section><h2>This box</h2><table>
    <tr><td>Version</td><td id="version"></td></tr>
    <tr><td>Uptime</td><td id="uptime"></td></tr>
    <tr><td>UDP engine</td><td id="backend"></td></tr>
    <tr><td>Configuration</td><td id="configuration"></td></tr>
    <tr><td>Cloud</td><td id="cloud"></td></tr>
    <tr><td>Certificates</td><td id="certificates"></td></tr>
    <tr><td>Clock</td><td id="clock"></td></tr>
    <tr><td>Software</td><td id="update"></td></tr>
  </table></section>
  <section id="selfcheck-section"><h2>Network self-check</h2><table>
    <tr><td>Verdict</td><td id="selfcheck"></td></tr>
    <tr><td>Public address</td><td id="public-address"></td></tr>
    <tr><td>Advertised</td><td id="advertised"></td></tr>
    <tr><td>NAT</td><td id="nat"></td></tr>
    <tr><td>Checked</td><td id="checked"></td></tr>
  </table><ul id="advice"></ul></section>
  <section><h2>iceServers for WebRTC apps</h2><pre id="ice"></pre></section>
  <section><h2>Last warnings and errors</h2><ul id="errors"></ul></section>
  <section><h2>Actions</h2>
    <!-- The token and the credentials stay in this page's memory for the request; nothing is stored. -->
    <form id="actions" onsubmit="return false">
      <label for="token">Admin token</label><input id="token" type="password" autocomplete="off">
      <label for="probe-user">TURN user</label><input id="probe-user" autocomplete="off">
      <label for="probe-password">Password</label><input id="probe-password" type="password" autocomplete="off">
      <span></span><span><button id="identify" type="button">Identify (LEDs chase)</button> <button id="probe" type="button">Check this relay</button> <button id="check-network" type="button">Check the network now</button>
        <button id="drain" type="button">Drain</button> <button id="resume" type="button">Resume</button></span>
    </form>
    <div id="action-result"></div><pre id="probe-steps" hidden></pre>
  </section>
  <section><h2>What the LEDs say</h2><table>
    <tr><td></td><td>green / amber / red</td><td>single LED</td></tr>
<!--LEGEND-->
  </table><h2>Codes</h2><table>
<!--CODES-->
  </table></section>
</main>
<script>
const $ = id => document.getElementById(id);
const text = (id, value) => { $(id).textContent = value; };
function list(id, items) {
  const ul = $(id); ul.replaceChildren();
  for (const item of items) { const li = document.createElement('li'); li.textContent = item; ul.appendChild(li); }
}
function leds(led) {
  const g = $('led-green'), a = $('led-amber'), r = $('led-red');
  for (const el of [g, a, r]) el.className = el.className.split(' ').slice(0, 2).join(' ');
  const on = (el, cls) => { el.classList.add('on'); if (cls) el.classList.add(cls); };
  switch (led.mode) {
    case 'Healthy': on(g); break;
    case 'Relaying': on(g, 'flicker'); break;
    case 'Starting': on(a, 'blink'); break;
    case 'Degraded': on(a); break;
    case 'DegradedClock': on(a, 'alternate'); on(g, 'alternate'); g.classList.add('late'); break;
    case 'Fault': on(r, 'blink'); break;
    case 'Identify': on(g, 'blink'); on(a, 'blink'); on(r, 'blink'); break;
  }
  text('ledtext', led.mode === 'Fault' ? `red: ${led.faultCode} blinks` : led.mode === 'DegradedClock' ? 'degraded: clock' : led.mode.toLowerCase());
}
async function refresh() {
  try {
    const s = await (await fetch('/api/status', { cache: 'no-store' })).json();
    $('health').className = s.health; text('health', s.health);
    text('summary', s.summary);
    list('reasons', s.reasons.map(r => `${r.code}: ${r.summary}`));
    leds(s.led);
    text('allocations', `${s.allocations} of ${s.maxAllocations}`);
    text('transports', s.transports.map(t => `${t.transport}: ${t.allocations} allocations` + (t.transport === 'udp' ? '' : `, ${t.connections} connections`)).join('; '));
    text('rate', `${s.relayed.packetsPerSecond} packets/s, ${(s.relayed.bytesPerSecond * 8 / 1e6).toFixed(2)} Mbit/s`);
    text('totals', `${s.relayed.packetsToPeers + s.relayed.packetsFromPeers} packets, ${s.relayed.bytesToPeers + s.relayed.bytesFromPeers} bytes`);
    text('listeners', s.listeners.map(l => `${l.transport} ${l.endpoint}`).join(', '));
    text('draining', !s.draining ? 'taken' : s.alternateServers.length ? `draining: sent to ${s.alternateServers.join(', ')}` : 'draining: refused');
    text('version', s.version);
    text('uptime', `${Math.floor(s.uptimeSeconds / 3600)} h ${Math.floor(s.uptimeSeconds / 60) % 60} min ${s.uptimeSeconds % 60} s`);
    text('backend', s.backend);
    text('configuration', s.configuration.source + (s.configuration.version == null ? '' : ` (version ${s.configuration.version})`));
    const c = s.configuration.cloud;
    text('cloud', !c ? 'not used' : `${c.url}: last poll ${c.lastOutcome.toLowerCase()}` + (c.lastProblem ? ` (${c.lastProblem})` : '')
      + (c.lastContact ? `, last contact ${new Date(c.lastContact).toLocaleString()}` : ', no contact yet'));
    const k = s.clock;
    text('clock', !k ? 'not checked' : `${k.trusted ? 'trusted' : 'NOT TRUSTED'}: ${k.detail}`
      + (k.cloudDateOffsetSeconds == null ? '' : ` (cloud Date offset ${k.cloudDateOffsetSeconds} s)`)
      + (k.maxErrorSeconds == null ? '' : ` (max. error ${k.maxErrorSeconds} s)`) + `; source ${k.source}`);
    const u = s.update;
    text('update', !u ? `${s.version} (no updates without a cloud)` : `${u.runningVersion} (${u.slot ? 'slot ' + u.slot : 'packaged'})`
      + (u.phase === 'idle' ? '' : `; update to ${u.target}: ${u.phase}`)
      + (u.size ? ` (${Math.floor(100 * (u.downloadedBytes || 0) / u.size)} % downloaded)` : '') + (u.problem ? `: ${u.problem}` : '')
      + (u.lastFailure ? `; ${u.lastFailure.version} was rolled back: ${u.lastFailure.reason}` : ''));
    text('certificates', s.certificates.length ? s.certificates.map(c => `${c.subject}: ${c.daysLeft} days left`).join('; ') : 'none (no TLS listener)');
    text('ice', JSON.stringify(s.iceServers.map(i => ({ urls: i.urls, username: '…', credential: '…' })), null, 2));
    list('errors', s.lastErrors.length ? s.lastErrors : ['none']);
    const sc = s.selfCheck;
    $('selfcheck-section').hidden = !sc;
    if (sc) {
      text('selfcheck', sc.verdict);
      text('public-address', sc.publicAddress || 'unknown');
      text('advertised', sc.advertisedAddress || '');
      text('nat', sc.mapping ? `${sc.mapping}, ${sc.filtering}` : '');
      text('checked', sc.checkedAt ? `${new Date(sc.checkedAt).toLocaleString()} against ${sc.servers}` : 'not yet');
      list('advice', sc.advice);
    }
  } catch (e) {
    $('health').className = 'Fault'; text('health', 'unreachable');
  }
}
async function act(path, body) {
  const headers = { Authorization: 'Bearer ' + $('token').value };
  if (body) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, { method: 'POST', headers, body: body ? JSON.stringify(body) : undefined });
  let data = null;
  try { data = await response.json(); } catch (e) { }
  if (response.status === 401) throw new Error('the admin token is wrong (status.adminToken)');
  if (response.status === 403) throw new Error('actions are off: set status.adminToken in the configuration');
  if (!response.ok) throw new Error((data && (data.detail || data.title || data.result)) || `HTTP ${response.status}`);
  return data;
}
$('identify').onclick = async () => {
  try { text('action-result', (await act('/api/identify')).result); } catch (e) { text('action-result', e.message); }
};
$('probe').onclick = async () => {
  text('action-result', 'checking…'); $('probe-steps').hidden = true;
  try {
    const r = await act('/api/probe', { user: $('probe-user').value, password: $('probe-password').value });
    const pre = $('probe-steps'); pre.replaceChildren(); pre.hidden = false;
    for (const step of r.steps) {
      const line = document.createElement('div');
      line.className = step.outcome.toUpperCase();
      line.textContent = `${step.outcome.toUpperCase().padEnd(5)} ${step.name.padEnd(14)} ${step.detail}`;
      pre.appendChild(line);
    }
    text('action-result', r.verdict);
  } catch (e) { text('action-result', e.message); }
};
$('check-network').onclick = async () => {
  text('action-result', 'checking the network…');
  try { text('action-result', (await act('/api/selfcheck')).verdict); refresh(); } catch (e) { text('action-result', e.message); }
};
for (const [id, path] of [['drain', '/api/drain'], ['resume', '/api/resume']]) {
  $(id).onclick = async () => {
    try { text('action-result', (await act(path)).result); refresh(); } catch (e) { text('action-result', e.message); }
  };
}
refresh(); setInterval(refresh, 2000);
</script>
</body>
</html>
""";
}
