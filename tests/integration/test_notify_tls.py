#!/usr/bin/env python3
"""Integration: TLS of notification channels against real receivers on loopback, each
channel trusting its own CA through ca_file.

- SMTP with STARTTLS (aiosmtpd with a tls_context, the self-signed certificate of
  scripts/gen-cert.sh): the mail arrives over TLS, the SMTP AUTH login happens only after
  STARTTLS although the server would accept it in clear, and the relay sees the channel's
  client certificate. smtps:// (TLS from the start) too.
- The same relay without ca_file (its certificate is not trusted): the attempt fails with
  reason tls, is retried and stays pending; with ca_file added and serve restarted it is
  delivered, once.
- HTTPS webhooks (http.server wrapped in ssl) with a certificate from a private CA made here
  with the openssl CLI: delivered through ca_file = the CA (alone or in a bundle); a wrong CA,
  a host name the certificate does not name: tls failures, retried, nothing received.
- Mutual TLS: a receiver that requires a client certificate from the private CA gets one
  from client_cert_file/client_key_file and sees its subject; without one: tls, retried.
- serve refuses bad TLS files with a message naming the channel and the key."""
import logging
import os
import smtplib
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

try:
    import aiosmtpd.controller  # noqa: E402
    from aiosmtpd.smtp import AuthResult  # noqa: E402
except ImportError:
    # Debian's python3-aiosmtpd is in the system interpreter's dist-packages (see
    # test_notify_channels.py).
    sys.path.append("/usr/lib/python3/dist-packages")
    import aiosmtpd.controller  # noqa: E402
    from aiosmtpd.smtp import AuthResult  # noqa: E402

# aiosmtpd logs a traceback for each refused handshake: expected here, and noise.
logging.getLogger("mail.log").setLevel(logging.CRITICAL)
c = fltest.Checks()
root = fltest.scratch_dir("notify-tls")
data = root + "/data"
pki = os.path.join(root, "pki")
os.makedirs(pki)


# ---- certificates ------------------------------------------------------------------------------

def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def p(name):
    return os.path.join(pki, name)


EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def make_ca(name):
    openssl("req", "-x509", *EC, "-keyout", p(name + ".key"), "-out", p(name + ".pem"),
            "-days", "2", "-subj", f"/CN=fleetlake test {name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return p(name + ".pem")


def make_leaf(name, ca, serial, ext):
    """A key and a certificate signed by ca; ext: the extension lines."""
    with open(p(name + ".ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\n" + ext)
    openssl("req", *EC, "-keyout", p(name + ".key"), "-out", p(name + ".csr"),
            "-subj", f"/CN={name}")
    openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p(ca + ".pem"), "-CAkey",
            p(ca + ".key"), "-set_serial", str(serial), "-days", "2", "-out", p(name + ".pem"),
            "-extfile", p(name + ".ext"))
    os.chmod(p(name + ".key"), 0o600)
    return p(name + ".pem"), p(name + ".key")


ca = make_ca("ca")
other_ca = make_ca("other-ca")
web_cert, web_key = make_leaf("receiver", "ca", 2, "subjectAltName=IP:127.0.0.1,"
                              "DNS:receiver.test\nextendedKeyUsage=serverAuth\n")
client_cert, client_key = make_leaf("fleetlake-client", "ca", 3,
                                    "extendedKeyUsage=clientAuth\n")
other_cert, other_key = make_leaf("stranger", "other-ca", 4, "extendedKeyUsage=clientAuth\n")
bundle = p("bundle.pem")  # the right CA second: every certificate of the file is trusted
with open(bundle, "w") as f:
    f.write(open(other_ca).read() + open(ca).read())
# The relay's certificate: self-signed by scripts/gen-cert.sh (127.0.0.1, localhost, ::1).
smtp_cert, smtp_key = fltest.gen_cert(os.path.join(root, "relay"))


# ---- receivers ---------------------------------------------------------------------------------

def https_receiver(client_ca=None, tls12=False):
    """An HTTPS receiver with the web certificate. client_ca: require a client certificate
    issued by it (mutual TLS). tls12: TLS 1.2 only."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(web_cert, web_key)
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(client_ca)
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return fltest.Receiver(ssl_context=ctx).start()


def received(rx, path):
    """(client certificate CN, JSON body) of each POST to path."""
    return [(h.peer_cn, h.body) for h in rx.hits(path)]


def over_tls(server, session):
    """STARTTLS sets session.ssl; a connection that was TLS from the start (smtps) has an
    ssl_object on its transport."""
    return session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None


class Mail:
    def __init__(self):
        # (rcpt_tos, over TLS, authenticated, text, the session's EHLOs, client cert CN)
        self.mails = []
        self.ehlos = {}  # client address -> for each EHLO: was the session TLS by then

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.ehlos.setdefault(session.peer, []).append(over_tls(server, session))
        session.host_name = hostname  # a handle_EHLO hook must do what the server would
        return responses

    async def handle_DATA(self, server, session, envelope):
        peer = server.transport.get_extra_info("peercert") or {}
        self.mails.append((list(envelope.rcpt_tos), over_tls(server, session),
                           bool(session.authenticated),
                           envelope.content.decode("utf-8", "replace"),
                           self.ehlos.get(session.peer),
                           dict(x[0] for x in peer.get("subject", ())).get("commonName")))
        return "250 OK"


logins = []  # (user, over TLS, accepted)


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"fleet-bot" and auth_data.password == b"tls-only-pass"
    logins.append((auth_data.login, over_tls(server, session), ok))
    return AuthResult(success=ok)


def relay_context(client_ca=None):
    """client_ca: ask for a client certificate (optional: aiosmtpd wants no more)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(smtp_cert, smtp_key)
    if client_ca:
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(client_ca)
    return ctx


web = https_receiver()
mtls = https_receiver(client_ca=ca)
# With TLS 1.3 the client's handshake is over before the server checks the client certificate,
# so a refusal reaches curl as a failed send or receive (reason connect or tls, by timing).
# With TLS 1.2 the refusal is part of the handshake: always reason tls.
mtls12 = https_receiver(client_ca=ca, tls12=True)
# STARTTLS relay. It offers AUTH and accepts mail before STARTTLS too (auth_require_tls off):
# that the login and the mail come after STARTTLS is the client's doing, which is the point.
starttls_mail = Mail()
starttls_port = fltest.free_port()
starttls = aiosmtpd.controller.Controller(
    starttls_mail, hostname="127.0.0.1", port=starttls_port, tls_context=relay_context(ca),
    require_starttls=False, authenticator=authenticator, auth_require_tls=False)
starttls.start()
with smtplib.SMTP("127.0.0.1", starttls_port, timeout=30) as probe:
    probe.ehlo()
    c.check(probe.has_extn("starttls") and probe.has_extn("auth"),
            "the relay offers AUTH in clear as well as STARTTLS (so the order is the client's)")
smtps_mail = Mail()
smtps_port = fltest.free_port()
smtps = aiosmtpd.controller.Controller(smtps_mail, hostname="127.0.0.1", port=smtps_port,
                                       ssl_context=relay_context())
smtps.start()

pw = os.path.join(root, "smtp.pw")
with open(pw, "w") as f:
    f.write("tls-only-pass\n")
os.chmod(pw, 0o600)

webbase = f"https://127.0.0.1:{web.port}"
mtlsbase = f"https://127.0.0.1:{mtls.port}"
mtls12base = f"https://127.0.0.1:{mtls12.port}"
conf = os.path.join(root, "fleetlake.conf")
with open(conf, "w") as f:
    f.write(f"""
[outbox]
poll_interval_ms = 100
retry_initial_ms = 200
retry_max_s = 1

[channel.hook_ca]
url = {webbase}/ca
ca_file = {ca}

[channel.hook_bundle]
type = slack
url = {webbase}/bundle
ca_file = {bundle}

[channel.hook_wrong_ca]
url = {webbase}/wrong-ca
ca_file = {other_ca}

[channel.hook_system]
url = {webbase}/system

[channel.hook_wrong_host]
url = https://localhost:{web.port}/wrong-host
ca_file = {ca}

[channel.hook_mtls]
url = {mtlsbase}/mtls
ca_file = {ca}
client_cert_file = {client_cert}
client_key_file = {client_key}

[channel.hook_no_client_cert]
url = {mtls12base}/no-client-cert
ca_file = {ca}

[channel.mail_starttls]
type = email
url = smtp://127.0.0.1:{starttls_port}
from = fleetlake@example.net
to = starttls@example.net
ca_file = {smtp_cert}
client_cert_file = {client_cert}
client_key_file = {client_key}
username = fleet-bot
password_file = {pw}

[channel.mail_untrusted]
type = email
url = smtp://127.0.0.1:{starttls_port}
from = fleetlake@example.net
to = untrusted@example.net

[channel.mail_smtps]
type = email
url = smtps://127.0.0.1:{smtps_port}
from = fleetlake@example.net
to = smtps@example.net
ca_file = {smtp_cert}
""")


def alert(aid, device):
    return {"id": aid, "rule": "engine_hot", "type": "threshold", "severity": "critical",
            "state": "open", "dedup_key": f"engine_hot:{device}", "device_id": device,
            "fleet": None, "summary": f"engine_temp 131.5 > 120 on {device}", "value": 131.5,
            "threshold": 120, "opened_at": "2026-11-25T07:00:00.000000Z",
            "updated_at": "2026-11-25T07:00:01.000000Z", "acknowledged_at": None,
            "resolved_at": None, "resolved_by": None, "notify_count": 1, "trace_id": None}


def enqueue(channel, a):
    return fltest.outbox_enqueue(data, channel, a)


def outbox(nid):
    return fltest.outbox_row(data, nid)


def waited(cond, what, timeout=30):
    """wait_for that reports a time-out as False (the check says what), not an exception."""
    try:
        return fltest.wait_for(cond, timeout=timeout, what=what)
    except AssertionError:
        return False


def refused(name, extra, want):
    s = fltest.Server(os.path.join(root, "bad-" + name), extra=extra)
    s.start(wait=False)
    rc = s.proc.wait(timeout=60)
    s.log.close()
    log = s.log_text()
    c.check(rc != 0 and want in log, f"serve refuses {name} with '{want}': exit {rc}\n{log}")


# ---- bad TLS files stop serve, naming the channel and the key ---------------------------------
def ch(*kv):
    return [a for k in kv for a in ("--set", "channel.x." + k)]


loose_key = p("loose.key")
with open(client_key) as src, open(loose_key, "w") as dst:
    dst.write(src.read())
os.chmod(loose_key, 0o644)
hook = f"url={webbase}/x"
refused("missing-ca", ch(hook, "ca_file=" + p("nope.pem")),
        f"[channel.x] ca_file: cannot read '{p('nope.pem')}'")
refused("key-as-ca", ch(hook, "ca_file=" + client_key), "[channel.x] ca_file: '")
refused("key-as-ca-why", ch(hook, "ca_file=" + client_key), "holds no PEM certificate")
refused("plain-http", ch(f"url=http://127.0.0.1:{web.port}/x", "ca_file=" + ca),
        "[channel.x] ca_file: does not apply without TLS")
refused("cert-alone", ch(hook, "client_cert_file=" + client_cert),
        "[channel.x] client_key_file: required with client_cert_file")
refused("wrong-key", ch(hook, "client_cert_file=" + client_cert, "client_key_file=" + other_key),
        "[channel.x] client_key_file: '" + other_key + "' is not the key of client_cert_file")
refused("loose-key", ch(hook, "client_cert_file=" + client_cert, "client_key_file=" + loose_key),
        "[channel.x] client_key_file: '" + loose_key + "' is readable by others")

# ---- deliveries --------------------------------------------------------------------------------
srv = fltest.Server(data, extra=["--config", conf]).start()
good = {name: enqueue(name, alert(i + 1, f"truck-{i + 1:04d}"))
        for i, name in enumerate(["hook_ca", "hook_bundle", "hook_mtls", "mail_starttls",
                                  "mail_smtps"])}
bad = {name: enqueue(name, alert(i + 11, f"truck-{i + 11:04d}"))
       for i, name in enumerate(["hook_wrong_ca", "hook_system", "hook_wrong_host",
                                 "hook_no_client_cert", "mail_untrusted"])}
for name, nid in good.items():
    c.check(waited(lambda: outbox(nid).get("state") == "delivered", name),
            f"{name}: delivered ({outbox(nid).get('last_error')})")
for name, nid in bad.items():
    c.check(waited(lambda: outbox(nid).get("attempts", 0) >= 2, name), f"{name}: retried")
    row = outbox(nid)
    c.eq(row.get("state"), "pending", f"{name}: still pending, not given up")
    print(f"{name}: {row.get('last_error')}")

got = received(web, "/ca")
c.eq(len(got), 1, "HTTPS webhook through ca_file: received once")
if got:
    c.eq(got[0][1].get("event"), "trigger", "webhook event")
    c.eq(got[0][1].get("device_id"), "truck-0001", "webhook device_id")
    c.eq(got[0][1].get("value"), 131.5, "webhook value")
    c.eq(got[0][1].get("idempotency_key"), f"{good['hook_ca']}:engine_hot:truck-0001",
         "webhook idempotency key")
got = received(web, "/bundle")
c.eq(len(got), 1, "slack through a CA bundle (the right CA second): received once")
if got:
    c.eq(got[0][1].get("text"), "CRITICAL engine_hot on truck-0002", "slack text")
got = received(mtls, "/mtls")
c.eq(len(got), 1, "mutual TLS: received once")
if got:
    c.eq(got[0][0], "fleetlake-client", "the receiver saw the client certificate's subject")
    c.eq(got[0][1].get("device_id"), "truck-0003", "mutual TLS payload")
for path in ("/wrong-ca", "/system", "/wrong-host"):
    c.eq(received(web, path), [], f"nothing received on {path}")
c.eq(received(mtls12, "/no-client-cert"), [], "nothing received without a client certificate")

mails = {tuple(m[0]): m for m in starttls_mail.mails}
m = mails.get(("starttls@example.net",))
c.check(m is not None, "STARTTLS: the mail arrived")
if m:
    c.check(m[1], "STARTTLS: the mail came over TLS")
    c.check(m[2], "STARTTLS: the session was authenticated")
    c.check("Subject: [fleetlake] CRITICAL engine_hot on truck-0004" in m[3], "STARTTLS subject")
    c.check("engine_temp 131.5 > 120 on truck-0004" in m[3], "STARTTLS body has the summary")
    c.eq(m[4], [False, True], "EHLO in clear, STARTTLS, EHLO again over TLS")
    c.eq(m[5], "fleetlake-client", "STARTTLS: the relay saw the client certificate")
c.check(logins and all(tls for _, tls, _ in logins),
        f"SMTP AUTH only after STARTTLS (the server allowed it before): {logins}")
c.check(any(ok and user == b"fleet-bot" for user, _, ok in logins), "the login succeeded")
c.eq(("untrusted@example.net",) in mails, False, "untrusted relay: no mail sent")
c.eq(len(smtps_mail.mails), 1, "smtps://: the mail arrived")
if smtps_mail.mails:
    c.eq(smtps_mail.mails[0][0], ["smtps@example.net"], "smtps:// recipient")
    c.check(smtps_mail.mails[0][1], "smtps://: over TLS")
    c.check("truck-0005" in smtps_mail.mails[0][3], "smtps:// body")

metrics = srv.metrics()
for name in bad:
    c.check(metrics.get(f'fleetlake_notify_failures_total{{channel="{name}",reason="tls"}}', 0)
            >= 1, f"{name}: failures counted with reason tls")
for name in good:
    c.eq(metrics.get(f'fleetlake_notify_deliveries_total{{channel="{name}",outcome="delivered"}}'),
         1.0, f"{name}: one delivery counted")

# ---- fix the configuration, restart: the waiting notifications go out, once --------------------
c.eq(srv.stop(), 0, "serve stops with notifications pending")
srv = fltest.Server(data, extra=["--config", conf,
                                 "--set", f"channel.mail_untrusted.ca_file={smtp_cert}",
                                 "--set", f"channel.hook_wrong_ca.ca_file={ca}"]).start()
for name in ("mail_untrusted", "hook_wrong_ca"):
    nid = bad[name]
    c.check(waited(lambda: outbox(nid).get("state") == "delivered", name),
            f"{name}: delivered after the fix and a restart")
time.sleep(1.0)  # several poll intervals: nothing is sent again
untrusted = [m for m in starttls_mail.mails if m[0] == ["untrusted@example.net"]]
c.eq(len(untrusted), 1, "the formerly untrusted relay got the mail once")
c.check(untrusted and untrusted[0][1], "... over TLS")
c.eq(len(received(web, "/wrong-ca")), 1, "the webhook got it once")
c.eq(len([m for m in starttls_mail.mails if m[0] == ["starttls@example.net"]]), 1,
     "the mail delivered before the restart was not sent again")
c.eq(outbox(bad["hook_system"]).get("state"), "pending", "untrusted webhook still waits")

c.eq(srv.stop(), 0, "serve exits 0")
starttls.stop()
smtps.stop()
web.stop()
mtls.stop()
mtls12.stop()
if c.failed:
    print(srv.log_text())
c.finish()
