#!/usr/bin/env python3
"""Email channels with SMTP AUTH against a real SMTP server (Debian's python3-aiosmtpd) that
requires a login: the right password (read from a 0600 file) delivers, a wrong one is refused
by the server and the notification fails without retries, a world-readable password file stops
serve with a message naming the channel and key, and username without password_file too."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

try:
    import aiosmtpd.controller  # noqa: E402
    from aiosmtpd.smtp import AuthResult  # noqa: E402
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
    import aiosmtpd.controller  # noqa: E402
    from aiosmtpd.smtp import AuthResult  # noqa: E402

c = fltest.Checks()
root = fltest.scratch_dir("smtp-auth")
data = root + "/data"
logins = []


class Mail:
    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((session.authenticated, envelope.rcpt_tos,
                           envelope.content.decode("utf-8", "replace")))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"fleet-bot" and auth_data.password == b"s3cret-pass"
    logins.append((mechanism, auth_data.login, ok))
    return AuthResult(success=ok)


mail = Mail()
port = fltest.free_port()
smtp = aiosmtpd.controller.Controller(mail, hostname="127.0.0.1", port=port,
                                      authenticator=authenticator, auth_required=True,
                                      auth_require_tls=False)
smtp.start()


def pwfile(name, text, mode):
    p = os.path.join(root, name)
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, mode)
    return p


good = pwfile("good.pw", "s3cret-pass\n", 0o600)
bad = pwfile("bad.pw", "wrong\n", 0o600)
open_pw = pwfile("open.pw", "s3cret-pass\n", 0o644)


def channel(name, pw, user="fleet-bot"):
    return ["--set", f"channel.{name}.type=email", "--set",
            f"channel.{name}.url=smtp://127.0.0.1:{port}", "--set",
            f"channel.{name}.from=fleetlake@example.net", "--set",
            f"channel.{name}.to=ops@example.net", "--set", f"channel.{name}.starttls=off",
            *(["--set", f"channel.{name}.username={user}"] if user else []),
            *(["--set", f"channel.{name}.password_file={pw}"] if pw else [])]


# ---- configuration errors stop serve, naming the channel and key ---------------------------
for extra, want, what in [(channel("m", open_pw), "[channel.m] password_file:", "0644 file"),
                          (channel("m", None), "[channel.m] password_file: required",
                           "username alone")]:
    s = fltest.Server(root + "/bad-" + str(len(want)), extra=extra)
    s.start(wait=False)
    rc = s.proc.wait(timeout=60)
    s.log.close()
    c.check(rc != 0 and want in s.log_text(), f"serve refuses {what}: exit {rc}")

srv = fltest.Server(data, extra=[*channel("ok", good), *channel("nope", bad),
                                 "--set", "outbox.poll_interval_ms=100"]).start()


def enqueue(ch, aid):
    a = {"id": aid, "rule": "hot", "type": "threshold", "severity": "critical", "state": "open",
         "dedup_key": f"hot/truck-{aid}", "device_id": f"truck-{aid}", "fleet": None,
         "summary": f"truck-{aid}: temperature 99 > 50", "value": 99, "threshold": 50,
         "opened_at": "2026-11-25T07:00:00.000000Z", "updated_at": "2026-11-25T07:00:00.000000Z",
         "acknowledged_at": None, "resolved_at": None, "resolved_by": None, "notify_count": 1,
         "trace_id": None}
    return fltest.outbox_enqueue(data, ch, a)


def state(nid):
    r = fltest.outbox_row(data, nid)
    return r.get("state"), r.get("attempts"), r.get("last_error")


n_ok = enqueue("ok", 1)
n_bad = enqueue("nope", 2)
fltest.wait_for(lambda: state(n_ok)[0] == "delivered", timeout=30, what="the authenticated mail")
fltest.wait_for(lambda: state(n_bad)[1] >= 1 and state(n_bad)[2], timeout=30,
                what="the refused login attempted")
c.eq(state(n_ok)[0], "delivered", "right password: delivered")
c.eq(len(mail.mails), 1, "one mail received")
c.check(mail.mails and mail.mails[0][0] and "truck-1" in mail.mails[0][2],
        "the mail came over an authenticated session")
c.check(any(ok and login == b"fleet-bot" for _, login, ok in logins), f"login seen: {logins}")
st, attempts, err = state(n_bad)
c.check(st in ("pending", "failed") and attempts >= 1 and err,
        f"wrong password: not delivered, the error recorded: {st} {attempts} {err}")
c.eq(len(mail.mails), 1, "no mail got through with the wrong password")
c.check(any(not ok and login == b"fleet-bot" for _, login, ok in logins),
        "the server saw and refused the wrong password")
log = srv.log_text()
c.check("s3cret-pass" not in log, "the password is in no log line")
c.eq(srv.stop(), 0, "serve exits 0")
smtp.stop()
c.finish()
