/* tls.c — a channel's TLS trust and identity: the ca_file, client_cert_file and
 * client_key_file keys of [channel.NAME], checked when serve starts and turned into libcurl
 * options for every delivery attempt (https://, smtps://, smtp:// with STARTTLS).
 *
 * Verification is never optional: the peer's certificate must chain to ca_file (or, without
 * it, to the system's CA store) and name the URL's host. ca_file replaces the system store for
 * its channel rather than adding to it, so a channel pointed at a private CA trusts exactly
 * that CA. The files are parsed here with OpenSSL, the library Debian's libcurl uses, so what
 * serve accepts is what the delivery workers can load; libcurl reads them again on each new
 * connection, so a renewed file needs no restart. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "notify/notify_int.h"

/* A CA bundle of every public CA (Debian's ca-certificates.crt) is about 220 KiB; 1 MiB leaves
 * room for a private bundle and keeps a wrong path (a log file) from being parsed whole. */
#define TLS_FILE_BYTES_MAX (1 << 20)

/* The OpenSSL password callback: an encrypted key is refused instead of prompting on the
 * terminal of a server that has none. */
static int no_passphrase(char *buf, int size, int rwflag, void *arg)
{
    return -1;
}

/* Open path for reading as PEM: a regular file of at most TLS_FILE_BYTES_MAX bytes. */
static BIO *open_pem(const fl_channel_config *ch, const char *key, const char *path,
                     struct stat *st, char *err, size_t errlen)
{
    /* stat before opening: opening a FIFO named by mistake would block serve's start */
    if (stat(path, st)) {
        snprintf(err, errlen, "[channel.%s] %s: cannot read '%s': %s", ch->name, key, path,
                 strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st->st_mode) || st->st_size > TLS_FILE_BYTES_MAX) {
        snprintf(err, errlen, "[channel.%s] %s: '%s' is %s: not a PEM file", ch->name, key, path,
                 S_ISREG(st->st_mode) ? "larger than 1 MiB" : "not a regular file");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "[channel.%s] %s: cannot read '%s': %s", ch->name, key, path,
                 strerror(errno));
        return NULL;
    }
    BIO *bio = BIO_new_fp(f, BIO_CLOSE);
    if (!bio) {
        snprintf(err, errlen, "[channel.%s] %s: out of memory", ch->name, key);
        fclose(f);
    }
    return bio;
}

/* The first certificate of a PEM file (*first, caller frees) and how many it holds. */
static int read_certs(const fl_channel_config *ch, const char *key, const char *path, X509 **first,
                      char *err, size_t errlen)
{
    struct stat st;
    BIO *bio = open_pem(ch, key, path, &st, err, errlen);
    if (!bio)
        return FL_ECONFIG;
    int count = 0;
    X509 *crt;
    while ((crt = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL))) {
        if (count++ == 0 && first)
            *first = crt;
        else
            X509_free(crt);
    }
    ERR_clear_error(); /* the end of the file reads as an error */
    BIO_free(bio);
    if (count == 0) {
        snprintf(err, errlen, "[channel.%s] %s: '%s' holds no PEM certificate", ch->name, key,
                 path);
        return FL_ECONFIG;
    }
    return 0;
}

/* client_key_file: private to the server's user (group allowed for Debian's ssl-cert group),
 * an unencrypted PEM key, the key of cert. */
static int check_client_key(const fl_channel_config *ch, X509 *cert, char *err, size_t errlen)
{
    struct stat st;
    const char *path = ch->client_key_file;
    BIO *bio = open_pem(ch, "client_key_file", path, &st, err, errlen);
    if (!bio)
        return FL_ECONFIG;
    int rc = FL_ECONFIG;
    EVP_PKEY *pkey = NULL;
    if (st.st_mode & 007) {
        snprintf(err, errlen,
                 "[channel.%s] client_key_file: '%s' is readable by others (chmod 600 it)",
                 ch->name, path);
    } else if (!(pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL))) {
        snprintf(err, errlen,
                 "[channel.%s] client_key_file: '%s' holds no unencrypted PEM private key",
                 ch->name, path);
    } else if (X509_check_private_key(cert, pkey) != 1) {
        snprintf(err, errlen,
                 "[channel.%s] client_key_file: '%s' is not the key of client_cert_file '%s'",
                 ch->name, path, ch->client_cert_file);
    } else {
        rc = 0;
    }
    ERR_clear_error();
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return rc;
}

/* Whether the channel's URL makes a TLS connection its files could be used on. */
static int uses_tls(const fl_channel_config *ch)
{
    if (strncmp(ch->url, "https://", 8) == 0 || strncmp(ch->url, "smtps://", 8) == 0)
        return 1;
    if (strncmp(ch->url, "smtp://", 7) == 0)
        return strcmp(ch->starttls, "on") == 0;
    return strcmp(ch->type, "pagerduty") == 0 && !ch->url[0]; /* the public https endpoint */
}

int fl_notify_tls_check(const fl_channel_config *ch, char *err, size_t errlen)
{
    const char *set = ch->ca_file[0]            ? "ca_file"
                      : ch->client_cert_file[0] ? "client_cert_file"
                      : ch->client_key_file[0]  ? "client_key_file"
                                                : NULL;
    if (!set)
        return 0;
    if (!uses_tls(ch)) {
        snprintf(err, errlen, "[channel.%s] %s: does not apply without TLS (url %s%s)", ch->name,
                 set, ch->url, strncmp(ch->url, "smtp://", 7) == 0 ? " with starttls = off" : "");
        return FL_ECONFIG;
    }
    if (!ch->client_cert_file[0] != !ch->client_key_file[0]) {
        snprintf(err, errlen, "[channel.%s] %s: required with %s (mutual TLS)", ch->name,
                 ch->client_cert_file[0] ? "client_key_file" : "client_cert_file",
                 ch->client_cert_file[0] ? "client_cert_file" : "client_key_file");
        return FL_ECONFIG;
    }
    if (ch->ca_file[0] && read_certs(ch, "ca_file", ch->ca_file, NULL, err, errlen))
        return FL_ECONFIG;
    if (!ch->client_cert_file[0])
        return 0;
    X509 *cert = NULL;
    int rc = read_certs(ch, "client_cert_file", ch->client_cert_file, &cert, err, errlen);
    if (!rc)
        rc = check_client_key(ch, cert, err, errlen);
    X509_free(cert);
    return rc;
}

void fl_notify_curl_tls(CURL *curl, const fl_channel_config *ch)
{
    /* TLS 1.2 at least, like the gateway; libcurl verifies peer and host name by default and
     * nothing here turns that off. */
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (ch->ca_file[0]) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, ch->ca_file);
        curl_easy_setopt(curl, CURLOPT_CAPATH, NULL); /* not the system's directory as well */
    }
    if (ch->client_cert_file[0]) {
        curl_easy_setopt(curl, CURLOPT_SSLCERT, ch->client_cert_file);
        curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(curl, CURLOPT_SSLKEY, ch->client_key_file);
        curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    }
}
