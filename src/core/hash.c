/* hash.c — CRC32C (hardware and slicing-by-8) and MD5 (OpenSSL). */
#include "core/hash.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static int have_sse42;

static void init_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xFF];
#if defined(__x86_64__)
    __builtin_cpu_init();
    have_sse42 = __builtin_cpu_supports("sse4.2");
#endif
}

uint32_t fl_crc32c_sw(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&table_once, init_tables);
    const unsigned char *s = p;
    crc = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        w ^= crc; /* little-endian hosts only; fleetlake targets x86_64 and aarch64 LE */
        crc = table[7][w & 0xFF] ^ table[6][(w >> 8) & 0xFF] ^ table[5][(w >> 16) & 0xFF] ^
              table[4][(w >> 24) & 0xFF] ^ table[3][(w >> 32) & 0xFF] ^
              table[2][(w >> 40) & 0xFF] ^ table[1][(w >> 48) & 0xFF] ^ table[0][w >> 56];
        s += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ table[0][(crc ^ *s++) & 0xFF];
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t c = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        c = __builtin_ia32_crc32di(c, w);
        s += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *s++);
    return ~c32;
}
#endif

uint32_t fl_crc32c(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&table_once, init_tables);
#if defined(__x86_64__)
    if (have_sse42)
        return crc32c_hw(crc, p, n);
#endif
    return fl_crc32c_sw(crc, p, n);
}

/* OpenSSL 3 looks an algorithm up by name, and allocates a context, on every
 * EVP_Digest(EVP_md5()) call: about a fifth of the ingest path's CPU when profiled (one MD5 per
 * record). So the algorithm is fetched once and each thread keeps one context, freed when the
 * thread exits. */
static EVP_MD *md5_algorithm;
static pthread_key_t md5_ctx_key;
static pthread_once_t md5_once = PTHREAD_ONCE_INIT;
static __thread EVP_MD_CTX *md5_ctx;

static void free_md5_ctx(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void md5_init_once(void)
{
    md5_algorithm = EVP_MD_fetch(NULL, "MD5", NULL);
    (void)pthread_key_create(&md5_ctx_key, free_md5_ctx);
}

void fl_md5(const void *p, size_t n, unsigned char out[16])
{
    pthread_once(&md5_once, md5_init_once);
    if (!md5_ctx && (md5_ctx = EVP_MD_CTX_new()))
        (void)pthread_setspecific(md5_ctx_key, md5_ctx);
    unsigned int len = 16;
    if (md5_algorithm && md5_ctx && EVP_DigestInit_ex2(md5_ctx, md5_algorithm, NULL) &&
        EVP_DigestUpdate(md5_ctx, p, n) && EVP_DigestFinal_ex(md5_ctx, out, &len))
        return;
    EVP_Digest(p, n, out, &len, EVP_md5(), NULL); /* out of memory: the slow path */
}

void fl_hex_encode(const void *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = bytes;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = 0;
}
