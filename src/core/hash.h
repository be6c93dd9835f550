/* hash.h — CRC32C (Castagnoli) for on-disk integrity and MD5 for shard placement.
 *
 * CRC32C uses the SSE4.2 crc32 instruction when the CPU has it, slicing-by-8 otherwise; both
 * give identical results (tested). MD5 is used only to place partition keys on the 128-bit
 * hash-key space exactly as Kinesis does, never for security. */
#ifndef FL_CORE_HASH_H
#define FL_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 for a fresh checksum) over p[0..n). */
uint32_t fl_crc32c(uint32_t crc, const void *p, size_t n);
/* The portable implementation, exposed so tests can compare it with the hardware path. */
uint32_t fl_crc32c_sw(uint32_t crc, const void *p, size_t n);

/* MD5 digest of p[0..n) into out[16]. */
void fl_md5(const void *p, size_t n, unsigned char out[16]);

/* Lowercase hex of n bytes into out (2n + 1 bytes, NUL-terminated): ids, hashes, keys. */
void fl_hex_encode(const void *bytes, size_t n, char *out);

/* 64-bit FNV-1a, for in-memory hash tables (not persisted). */
static inline uint64_t fl_hash64(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

#endif
