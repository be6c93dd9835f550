/* tls.c — HTTPS for the gateway: loading and checking tls.cert_file / tls.key_file before
 * libmicrohttpd sees them, and the one GnuTLS priority string every connection negotiates
 * with (TLS 1.2 and 1.3, Mozilla's "intermediate" cipher list).
 *
 * libmicrohttpd takes the certificate and key as PEM text in memory and, when they are
 * wrong, only logs a GnuTLS error code and refuses to start. Loading them here first lets
 * `serve` say which file is missing, unreadable, not PEM, or not the key of that
 * certificate. The check uses GnuTLS itself (the library libmicrohttpd links), so what is
 * accepted here is exactly what the daemon accepts. */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gateway/gateway_int.h"

#define MODULE "gateway"

/* Mozilla Server Side TLS v5.7, "intermediate" (wiki.mozilla.org/Security/Server_Side_TLS),
 * in GnuTLS priority syntax (docs/security.md has the suite-by-suite mapping):
 *  - protocols TLS 1.3 and TLS 1.2 only (-VERS-ALL drops SSL 3, TLS 1.0, TLS 1.1, DTLS);
 *  - bulk ciphers AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305, MAC "AEAD" only: no CBC, RC4,
 *    3DES, no SHA-1 MAC. TLS 1.3 suites are these ciphers (TLS_AES_128_GCM_SHA256,
 *    TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256);
 *  - key exchange ECDHE-ECDSA, ECDHE-RSA and DHE-RSA: forward secrecy only, no static RSA;
 *  - groups X25519, P-256, P-384 and the RFC 7919 group ffdhe2048 for DHE;
 *  - no server preference: Mozilla leaves the choice to the client (all suites are strong;
 *    clients without AES hardware pick ChaCha20). */
const char fl_gateway_tls_priorities[] =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
    ":-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305"
    ":-MAC-ALL:+AEAD"
    ":-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:+DHE-RSA"
    ":-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-FFDHE2048";

/* A PEM file is a few KiB; a chain of a handful of certificates well under 64 KiB. The cap
 * keeps a wrong path (a log file, a device) from being read into memory whole. */
#define TLS_FILE_BYTES_MAX (1 << 20)

/* Read a whole PEM file into a NUL-terminated heap string (caller frees with fl_free). */
static int read_pem(const char *key, const char *path, char **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open '%s': %s", key, path, strerror(errno));
        return FL_ECONFIG;
    }
    int rc = 0;
    fl_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > TLS_FILE_BYTES_MAX) {
            snprintf(err, errlen, "%s: '%s' is larger than 1 MiB: not a PEM file", key, path);
            rc = FL_ECONFIG;
            goto out;
        }
        if ((rc = fl_buf_append(&b, chunk, n)))
            goto out;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: cannot read '%s': %s", key, path, strerror(errno));
        rc = FL_ECONFIG;
        goto out;
    }
    if (b.len == 0) {
        snprintf(err, errlen, "%s: '%s' is empty", key, path);
        rc = FL_ECONFIG;
        goto out;
    }
    if ((rc = fl_buf_append(&b, "", 1)))
        goto out;
    *out = b.data;
    b.data = NULL;
out:
    fl_buf_free(&b);
    fclose(f);
    return rc;
}

/* Parse the certificate chain and the key separately (to name the file that is wrong), then
 * as a pair (GnuTLS checks that the key is the certificate's). Warns about an expired or
 * not yet valid leaf: clients will refuse it, but it is the operator's to renew. */
static int check_pair(const fl_config *cfg, const char *cert_pem, const char *key_pem,
                      char *err, size_t errlen)
{
    gnutls_datum_t cert = {(unsigned char *)cert_pem, (unsigned)strlen(cert_pem)};
    gnutls_datum_t key = {(unsigned char *)key_pem, (unsigned)strlen(key_pem)};
    gnutls_x509_crt_t *crts = NULL;
    unsigned crt_count = 0;
    gnutls_x509_privkey_t pk = NULL;
    gnutls_certificate_credentials_t cred = NULL;
    int rc = FL_ECONFIG;
    int g = gnutls_x509_crt_list_import2(&crts, &crt_count, &cert, GNUTLS_X509_FMT_PEM, 0);
    if (g < 0 || crt_count == 0) {
        snprintf(err, errlen, "tls.cert_file: '%s' holds no PEM certificate (%s)",
                 cfg->tls_cert_file, g < 0 ? gnutls_strerror(g) : "none found");
        goto out;
    }
    if ((g = gnutls_x509_privkey_init(&pk)) < 0 ||
        (g = gnutls_x509_privkey_import2(pk, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        snprintf(err, errlen,
                 "tls.key_file: '%s' holds no unencrypted PEM private key (%s)",
                 cfg->tls_key_file, gnutls_strerror(g));
        goto out;
    }
    if ((g = gnutls_certificate_allocate_credentials(&cred)) < 0 ||
        (g = gnutls_certificate_set_x509_key_mem2(cred, &cert, &key, GNUTLS_X509_FMT_PEM, NULL,
                                                  0)) < 0) {
        snprintf(err, errlen, "tls.key_file '%s' is not the key of tls.cert_file '%s' (%s)",
                 cfg->tls_key_file, cfg->tls_cert_file, gnutls_strerror(g));
        goto out;
    }
    time_t now = time(NULL);
    time_t not_after = gnutls_x509_crt_get_expiration_time(crts[0]);
    time_t not_before = gnutls_x509_crt_get_activation_time(crts[0]);
    if (not_after != (time_t)-1 && now > not_after)
        FL_WARN(MODULE, "tls.cert_file %s expired; clients will refuse it", cfg->tls_cert_file);
    else if (not_before != (time_t)-1 && now < not_before)
        FL_WARN(MODULE, "tls.cert_file %s is not valid yet", cfg->tls_cert_file);
    rc = 0;
out:
    for (unsigned i = 0; i < crt_count; i++)
        gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
    if (pk)
        gnutls_x509_privkey_deinit(pk);
    if (cred)
        gnutls_certificate_free_credentials(cred);
    return rc;
}

/* The RFC 7919 ffdhe2048 group as PKCS#3 PEM, for the DHE-RSA suites. GnuTLS negotiates it
 * by itself with clients that name it in supported_groups (TLS 1.3, recent 1.2 clients);
 * TLS 1.2 clients that do not (OpenSSL among them) need the server to have DH parameters.
 * Built from GnuTLS's own copy of the group, so no prime is pasted here. Caller frees. */
static int ffdhe2048_pem(char **out)
{
    gnutls_dh_params_t dh = NULL;
    gnutls_datum_t pem = {NULL, 0};
    int rc = FL_ENOMEM;
    if (gnutls_dh_params_init(&dh) < 0)
        return FL_ENOMEM;
    if (gnutls_dh_params_import_raw2(dh, &gnutls_ffdhe_2048_group_prime,
                                     &gnutls_ffdhe_2048_group_generator,
                                     gnutls_ffdhe_2048_key_bits) < 0 ||
        gnutls_dh_params_export2_pkcs3(dh, GNUTLS_X509_FMT_PEM, &pem) < 0)
        goto out;
    if (!(*out = fl_malloc(pem.size + 1)))
        goto out;
    memcpy(*out, pem.data, pem.size);
    (*out)[pem.size] = 0;
    rc = 0;
out:
    gnutls_free(pem.data);
    gnutls_dh_params_deinit(dh);
    return rc;
}

int fl_gateway_tls_load(const fl_config *cfg, fl_gateway_tls *tls, char *err, size_t errlen)
{
    memset(tls, 0, sizeof *tls);
    int have_cert = cfg->tls_cert_file[0] != 0, have_key = cfg->tls_key_file[0] != 0;
    if (!have_cert && !have_key)
        return 0;
    if (!have_cert || !have_key) {
        snprintf(err, errlen, "%s is set but %s is not: HTTPS needs both",
                 have_cert ? "tls.cert_file" : "tls.key_file",
                 have_cert ? "tls.key_file" : "tls.cert_file");
        return FL_ECONFIG;
    }
    const char *where = NULL;
    gnutls_priority_t prio;
    if (gnutls_priority_init2(&prio, fl_gateway_tls_priorities, &where, 0) < 0) {
        snprintf(err, errlen, "this GnuTLS rejects the TLS priority string near '%s'",
                 where ? where : "?");
        return FL_ECONFIG;
    }
    gnutls_priority_deinit(prio);
    int rc = read_pem("tls.cert_file", cfg->tls_cert_file, &tls->cert_pem, err, errlen);
    rc = rc ? rc : read_pem("tls.key_file", cfg->tls_key_file, &tls->key_pem, err, errlen);
    rc = rc ? rc : check_pair(cfg, tls->cert_pem, tls->key_pem, err, errlen);
    if (!rc && (rc = ffdhe2048_pem(&tls->dh_pem)))
        snprintf(err, errlen, "cannot build the ffdhe2048 DH parameters: %s", fl_strerror(rc));
    if (rc) {
        fl_gateway_tls_free(tls);
        return rc;
    }
    tls->enabled = 1;
    return 0;
}

void fl_gateway_tls_free(fl_gateway_tls *tls)
{
    if (!tls)
        return;
    if (tls->key_pem) /* the private key does not linger in freed heap memory */
        memset(tls->key_pem, 0, strlen(tls->key_pem));
    fl_free(tls->cert_pem);
    fl_free(tls->key_pem);
    fl_free(tls->dh_pem);
    tls->cert_pem = tls->key_pem = tls->dh_pem = NULL;
    tls->enabled = 0;
}
