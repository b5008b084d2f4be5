#ifndef HINDSIGHT_HS_HASH_H
#define HINDSIGHT_HS_HASH_H
/*
 * RFC 6962 Merkle hashing over OpenSSL's SHA-256 (libcrypto, which uses the CPU's SHA
 * instructions). Kept in C so that hashing a million lines costs no per-call allocation.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SHA-256(0x00 || data): the hash of one leaf. */
void hs_leaf_hash(const uint8_t *data, size_t len, uint8_t out[32]);

/* SHA-256(0x01 || left || right): the hash of an interior node. */
void hs_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32]);

/* SHA-256 of arbitrary bytes. */
void hs_sha256(const uint8_t *data, size_t len, uint8_t out[32]);

/*
 * A fast 64-bit checksum of `words` 64-bit words (four lanes of multiply and rotate, as
 * xxHash64 does, then mixed): finds damaged pages of the writer's index at memory speed.
 * Not a cryptographic hash; the index is checked against the log where it is trusted.
 */
uint64_t hs_page_checksum(const uint8_t *data, size_t words);

/*
 * XXH32 of `length` bytes with `seed`, as the LZ4 frame format checksums blocks: so that one
 * block of a frame can be checked and decoded (in part) without the frame decoder.
 */
uint32_t hs_xxh32(const uint8_t *data, size_t length, uint32_t seed);

/*
 * Splits `buf` (stored NDJSON) at '\n' and writes the leaf hash of each line (without its
 * newline) to `out`. Line i must start with {"seq":first_seq+i, exactly as the engine
 * writes it. Returns the number of lines, which must be `expected_lines`; otherwise
 * returns -1 and sets *bad_line to the index of the first line that is missing, holds
 * the wrong seq, or is not newline-terminated. When `span` is not NULL, span[0] and
 * span[1] receive the smallest and largest top-level occurredAt (ms since the epoch);
 * a line without one is bad too.
 */
long hs_hash_stored_lines(const uint8_t *buf, size_t len, uint64_t first_seq, size_t expected_lines,
                          uint8_t *out, long *bad_line, int64_t *span);

#ifdef __cplusplus
}
#endif
#endif
