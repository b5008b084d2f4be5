// RFC 6962 hashing for Hindsight's Merkle tree. See hs_hash.h.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "hs_hash.h"
#include "hs_json.h"

#include <openssl/sha.h>

#include <cstdint>
#include <cstring>

extern "C" {

uint32_t hs_xxh32(const uint8_t *data, size_t length, uint32_t seed) {
    const uint32_t p1 = 2654435761U, p2 = 2246822519U, p3 = 3266489917U, p4 = 668265263U, p5 = 374761393U;
    auto rotl = [](uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
    auto read = [](const uint8_t *p) {
        uint32_t w;
        std::memcpy(&w, p, 4);
        return w;
    };
    const uint8_t *p = data;
    const uint8_t *end = data + length;
    uint32_t h;
    if (length >= 16) {
        uint32_t v[4] = {seed + p1 + p2, seed + p2, seed, seed - p1};
        for (; p + 16 <= end; p += 16) {
            for (int k = 0; k < 4; k++) v[k] = rotl(v[k] + read(p + 4 * k) * p2, 13) * p1;
        }
        h = rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18);
    } else {
        h = seed + p5;
    }
    h += static_cast<uint32_t>(length);
    for (; p + 4 <= end; p += 4) h = rotl(h + read(p) * p3, 17) * p4;
    for (; p < end; p++) h = rotl(h + *p * p5, 11) * p1;
    h ^= h >> 15;
    h *= p2;
    h ^= h >> 13;
    h *= p3;
    h ^= h >> 16;
    return h;
}

uint64_t hs_page_checksum(const uint8_t *data, size_t words) {
    const uint64_t p1 = 0x9E3779B185EBCA87ULL, p2 = 0xC2B2AE3D27D4EB4FULL, p3 = 0x165667B19E3779F9ULL;
    uint64_t lane[4] = {p1 + p2, p2, 0, 0 - p1};
    auto round = [&](uint64_t acc, uint64_t input) {
        acc += input * p2;
        acc = (acc << 31) | (acc >> 33);
        return acc * p1;
    };
    size_t i = 0;
    for (; i + 4 <= words; i += 4) {
        for (int k = 0; k < 4; k++) {
            uint64_t w;
            std::memcpy(&w, data + (i + k) * 8, 8);
            lane[k] = round(lane[k], w);
        }
    }
    uint64_t h = ((lane[0] << 1) | (lane[0] >> 63)) + ((lane[1] << 7) | (lane[1] >> 57)) + ((lane[2] << 12) | (lane[2] >> 52)) +
                 ((lane[3] << 18) | (lane[3] >> 46));
    for (; i < words; i++) {
        uint64_t w;
        std::memcpy(&w, data + i * 8, 8);
        h ^= round(0, w);
        h = ((h << 27) | (h >> 37)) * p1 + p3;
    }
    h ^= words * 8;
    h ^= h >> 33;
    h *= p2;
    h ^= h >> 29;
    h *= p3;
    h ^= h >> 32;
    return h;
}

void hs_leaf_hash(const uint8_t *data, size_t len, uint8_t out[32]) {
    SHA256_CTX ctx;
    const uint8_t prefix = 0x00;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, &prefix, 1);
    SHA256_Update(&ctx, data, len);
    SHA256_Final(out, &ctx);
}

// The low-level SHA256_* calls, not the one-shot SHA256(): in OpenSSL 3 the latter goes
// through EVP and takes a lock per call, which cost more than the hashing of a node.
void hs_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32]) {
    uint8_t block[65];
    block[0] = 0x01;
    std::memcpy(block + 1, left, 32);
    std::memcpy(block + 33, right, 32);
    hs_sha256(block, sizeof block, out);
}

void hs_sha256(const uint8_t *data, size_t len, uint8_t out[32]) {
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data, len);
    SHA256_Final(out, &ctx);
}

// The top-level occurredAt of a stored line: the envelope's fields come in canonical order
// with occurredAt after data, and a string value cannot hold the pattern unescaped, so the
// last occurrence of "occurredAt":" is the top-level one.
static bool occurred_at(const uint8_t *line, size_t len, int64_t *ms) {
    static const char key[] = "\"occurredAt\":\"";
    const size_t key_len = sizeof key - 1;
    for (size_t i = len >= key_len + 24 ? len - key_len - 24 + 1 : 0; i-- > 0;) {
        if (line[i] == '"' && std::memcmp(line + i, key, key_len) == 0)
            return hs_parse_timestamp(reinterpret_cast<const char *>(line + i + key_len), 24, ms) == 0;
    }
    return false;
}

long hs_hash_stored_lines(const uint8_t *buf, size_t len, uint64_t first_seq, size_t expected_lines,
                          uint8_t *out, long *bad_line, int64_t *span) {
    if (span) {
        span[0] = INT64_MAX;
        span[1] = INT64_MIN;
    }
    size_t count = 0, start = 0;
    char prefix[40] = "{\"seq\":";
    while (start < len) {
        const void *nl = std::memchr(buf + start, '\n', len - start);
        if (!nl || count == expected_lines) { *bad_line = long(count); return -1; }
        size_t end = static_cast<const uint8_t *>(nl) - buf;
        // {"seq":<first_seq + count>,
        char digits[20];
        int d = 0;
        for (uint64_t v = first_seq + count; d == 0 || v > 0; v /= 10) digits[d++] = char('0' + v % 10);
        size_t n = 7;
        while (d > 0) prefix[n++] = digits[--d];
        prefix[n++] = ',';
        if (end - start < n || std::memcmp(buf + start, prefix, n) != 0) {
            *bad_line = long(count);
            return -1;
        }
        if (span) {
            int64_t ms;
            if (!occurred_at(buf + start, end - start, &ms)) {
                *bad_line = long(count);
                return -1;
            }
            if (ms < span[0]) span[0] = ms;
            if (ms > span[1]) span[1] = ms;
        }
        hs_leaf_hash(buf + start, end - start, out + 32 * count);
        count++;
        start = end + 1;
    }
    if (count != expected_lines) { *bad_line = long(count); return -1; }
    return long(count);
}

}  // extern "C"
