"""test_dashboard — the web dashboard in a real browser (ctest label `browser`).

Starts `fleetlake serve --demo` with a small simulated fleet (20 trucks, 40 records/s), takes
the demo data_engineer key from its output, creates an operator key, and runs dashboard.mjs:
playwright-core driving Debian's headless Chromium through every page (see that file for the
checks). Screenshots go to $FL_BROWSER_ARTIFACTS (the build directory's browser-artifacts/).
Needs scripts/install-web-npm.sh --test (make test runs it) and /usr/bin/chromium."""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEVICES = 20
artifacts = os.environ.get("FL_BROWSER_ARTIFACTS") or fltest.scratch_dir("browser-artifacts")

for need, how in [(os.path.join(HERE, "node_modules", "playwright-core"), "scripts/install-web-npm.sh --test"),
                  (os.environ.get("FL_CHROMIUM", "/usr/bin/chromium"), "apt-get install chromium"),
                  (os.path.join(HERE, "..", "..", "web", "vendor", "uPlot.esm.js"), "scripts/install-web-npm.sh")]:
    if not os.path.exists(need):
        print(f"FAIL missing {need}: run {how}")
        sys.exit(1)

data = fltest.scratch_dir("browser")
srv = fltest.Server(os.path.join(data, "d"), auth=True, extra=[
    "--demo", "--set", f"sim.demo_devices={DEVICES}", "--set", "sim.demo_rate=40",
    "--set", "process.batch_interval_s=1"]).start()
try:
    key = None
    for _ in range(200):
        m = re.search(r"demo API key \(data_engineer\): (flk_\S+)", srv.log_text())
        if m:
            key = m.group(1)
            break
        time.sleep(0.05)
    if not key:
        print("FAIL serve --demo printed no demo key:\n" + srv.log_text())
        sys.exit(1)
    _, op_key = fltest.create_key(srv.data, "operator", "--name", "browser test operator")
    # Wait until every simulated truck has been processed: the fleet page counts them.
    srv.key = key
    fltest.wait_for(lambda: len(json.loads(srv.request("GET", "/v1/devices?limit=1000")[2])["devices"])
                    >= DEVICES, timeout=30, what="all simulated devices processed")
    env = dict(os.environ, FL_URL=srv.url(), FL_KEY=key, FL_OP_KEY=op_key, FL_DEVICES=str(DEVICES),
               FL_ARTIFACTS=artifacts)
    p = subprocess.run(["node", os.path.join(HERE, "dashboard.mjs")], env=env, timeout=240)
    print(f"screenshots in {artifacts}")
    rc = p.returncode
finally:
    srv.stop()
sys.exit(rc)
