#!/usr/bin/env python3
"""The HTML dashboard in a real browser (headless Chromium): sorting a column
reorders the agents, the range selector switches sections, the slow agent's
row is highlighted, and the page makes no network request (Chromium is
pointed at a counting proxy, and the page's own Resource Timing and CSP
violation events are checked); at a 390 px phone width every cell of the
agents table is inside the viewport and labelled.  Screenshots at 1280 and 390 px go to
$LOOMLAT_ARTIFACTS (default /tmp/loomlat-screenshots).  Skipped when no
chromium is installed (scripts/install-deps.sh installs it)."""

from html import escape as html_escape
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading

import dash_seed
import harness

# Runs after the page's own script, in the same document: it drives the page
# as a reader would and writes what it saw into <pre id="probe">.
PROBE = r"""<script>
(function(){
var out={violations:0}, err=null;
document.addEventListener('securitypolicyviolation',function(){out.violations++});
function ids(){var s=document.querySelector('section.range.on');
 return Array.prototype.map.call(s.querySelectorAll('table.agents tbody tr'),
  function(r){return r.cells[0].textContent})}
function shown(r){return getComputedStyle(document.getElementById('r-'+r)).display}
try{
 out.selected=document.querySelector('section.range.on').dataset.range;
 out.before=ids();
 var th=document.querySelector('section.range.on table.agents th:nth-child(6)');
 th.click(); out.asc=ids(); th.click(); out.desc=ids();
 out.sort_mark=th.getAttribute('aria-sort');
 document.querySelector('nav a[data-range="24h"]').click();
 out.after_switch={'1h':shown('1h'),'24h':shown('24h'),'7d':shown('7d')};
 var slow=document.querySelector('#r-24h tr.slow td');
 out.slow_bg=slow?getComputedStyle(slow).backgroundColor:null;
 out.slow_text=slow?getComputedStyle(slow.parentNode.cells[1],'::after').content:null;
 out.resources=performance.getEntriesByType('resource').length;
}catch(e){err=String(e)}
out.error=err;
var pre=document.createElement('pre');pre.id='probe';
setTimeout(function(){pre.textContent=JSON.stringify(out);document.body.appendChild(pre)},0);
})();
</script>"""

# At a phone's width: the page in a 390 px wide frame (headless Chromium's
# window is at least 500 px wide), and a probe asking whether every cell of
# the shown agents table is inside the frame's viewport, wide enough for
# its text and labelled with its column's name, and whether the document
# scrolls sideways.  (The page's srcdoc frame shares this document's origin.)
NARROW = r"""<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" style="width:390px;height:2400px;border:0" srcdoc="%s"></iframe>
<script>
document.getElementById('f').addEventListener('load',function(){
var w=this.contentWindow, d=this.contentDocument, out={}, err=null;
try{
 var vw=d.documentElement.clientWidth, t=d.querySelector('section.range.on table.agents');
 var names=Array.prototype.map.call(t.tHead.rows[0].cells,function(th){return th.textContent});
 out.viewport=vw; out.scroll_width=d.documentElement.scrollWidth; out.cells=0; out.bad=[];
 Array.prototype.forEach.call(t.tBodies[0].rows,function(r){
  Array.prototype.forEach.call(r.cells,function(c,i){
   var b=c.getBoundingClientRect(), label=w.getComputedStyle(c,'::before').content;
   out.cells++;
   if(!(b.width>0&&b.height>0&&b.left>=0&&b.right<=vw&&c.scrollWidth<=c.clientWidth+1
        &&label===JSON.stringify(names[i])))
    out.bad.push([r.cells[0].textContent,names[i],Math.round(b.left),Math.round(b.right),label]);
  })});
 out.columns=names.length;
}catch(e){err=String(e)}
out.error=err;
var pre=document.createElement('pre');pre.id='probe';pre.textContent=JSON.stringify(out);
document.body.appendChild(pre);
});
</script></body></html>"""

# Chromium's own background requests (component updates, network time,
# sign-in), which no flag fully silences; every other host is the page's.
BROWSER_OWN = re.compile(r"^(GET|POST|CONNECT) (http://)?(clients2\.google\.com|"
                         r"accounts\.google\.com|update\.googleapis\.com|"
                         r"optimizationguide-pa\.googleapis\.com)[:/]")


class CountingProxy:
    """A TCP listener Chromium is told to use as its proxy: every request line
    sent to it is a request the page (or the browser) tried to make."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            # Chromium also opens proxy connections ahead of need and closes them
            # unused: only a request line is a request.
            conn.settimeout(2)
            try:
                line = conn.recv(200).split(b"\r\n")[0].decode(errors="replace")
            except OSError:
                line = ""
            if line:
                self.requests.append(line)
            conn.close()


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run_chromium(exe, profile, proxy, *args):
    cmd = [exe, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
           "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-default-apps", "--user-data-dir=" + profile,
           "--proxy-server=http://127.0.0.1:%d" % proxy.port, "--proxy-bypass-list=<-loopback>",
           *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


def main():
    tap = harness.Tap()
    exe = chromium()
    if exe is None:
        print("1..0 # SKIP chromium is not installed (scripts/install-deps.sh installs it)")
        os._exit(0)
    harness.require_environment(tap)
    db = dash_seed.seed("browser")
    shots = os.environ.get("LOOMLAT_ARTIFACTS", "/tmp/loomlat-screenshots")
    os.makedirs(shots, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        page = os.path.join(tmp, "dashboard.html")
        res = harness.loomlat("report", "--db", db.conninfo, "--as-of", dash_seed.AS_OF,
                              "--range", "1h", "--format", "html", "-o", page)
        if not tap.eq(res.rc, 0, "report --format html: exit 0"):
            tap.diag("\n".join(res.explain()))
            return
        html = open(page, encoding="utf-8").read()
        probed = os.path.join(tmp, "probed.html")
        with open(probed, "w", encoding="utf-8") as f:
            f.write(html.replace("</body>", PROBE + "</body>"))
        proxy = CountingProxy()
        run = run_chromium(exe, os.path.join(tmp, "profile"), proxy, "--virtual-time-budget=3000",
                           "--dump-dom", "file://" + probed)
        m = re.search(r'<pre id="probe">(.*?)</pre>', run.stdout, re.S)
        if not tap.ok(m, "chromium ran the page and the probe", run.stderr[-2000:]):
            return
        got = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
        tap.eq(got["error"], None, "the probe ran without a script error")
        tap.eq(got["selected"], "1h", "the --range section is shown first")
        tap.eq(got["before"], ["1", "2"], "agents first in agent_id order")
        tap.eq(got["desc"], ["2", "1"], "clicking p95 twice sorts descending: slow agent first")
        tap.ok(got["asc"] != got["desc"], "the two clicks gave two orders: %r, %r"
               % (got["asc"], got["desc"]))
        tap.eq(got["sort_mark"], "descending", "the header carries aria-sort")
        tap.eq(got["after_switch"], {"1h": "none", "24h": "block", "7d": "none"},
               "the range selector shows 24h and hides the others")
        tap.eq(got["slow_bg"], "rgb(251, 227, 214)", "the slow row is highlighted")
        tap.eq(got["slow_text"], '" (slow)"', "the slow row says so in words too")
        tap.eq(got["resources"], 0, "the page loaded no resource (Resource Timing)")
        tap.eq(got["violations"], 0, "the page tried nothing its CSP forbids")
        narrow = os.path.join(tmp, "narrow.html")
        with open(narrow, "w", encoding="utf-8") as f:
            f.write(NARROW % html_escape(html, quote=True))
        run = run_chromium(exe, os.path.join(tmp, "profile"), proxy, "--virtual-time-budget=3000",
                           "--dump-dom", "file://" + narrow)
        m = re.search(r'<pre id="probe">(.*?)</pre>', run.stdout, re.S)
        if tap.ok(m, "chromium ran the page at 390 px", run.stderr[-2000:]):
            got = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
            tap.eq(got["error"], None, "the 390 px probe ran without a script error")
            tap.eq(got["viewport"], 390, "the viewport is 390 px wide")
            tap.ok(got["scroll_width"] <= got["viewport"],
                   "at 390 px the document does not scroll sideways (%s px wide)"
                   % got["scroll_width"])
            tap.ok(got["cells"] == 2 * got["columns"] and got["columns"] == 9 and got["bad"] == [],
                   "at 390 px all %d cells of the agents' %d columns lie inside the viewport, "
                   "whole and labelled with their column" % (got["cells"], got["columns"]),
                   got["bad"])
        for width in (1280, 390):
            path = os.path.join(shots, "dashboard-%d.png" % width)
            if os.path.exists(path):
                os.unlink(path)
            run_chromium(exe, os.path.join(tmp, "profile"), proxy,
                         "--window-size=%d,2400" % width, "--hide-scrollbars",
                         "--screenshot=" + path, "file://" + page)
            tap.ok(os.path.exists(path) and os.path.getsize(path) > 10000,
                   "screenshot at %d px: %s" % (width, path))
        page_requests = [r for r in proxy.requests if not BROWSER_OWN.search(r)]
        tap.eq(page_requests, [], "no request from the page reached the proxy (%d of the "
               "browser's own, to its update and time services)" % len(proxy.requests))
        proxy.sock.close()


if __name__ == "__main__":
    main()
