#ifndef HINDSIGHT_HS_JSON_H
#define HINDSIGHT_HS_JSON_H
/*
 * A small C API over simdjson for the log's hot paths: validating producer envelopes
 * (and minifying them for storage) and pulling the engine's fields out of stored lines.
 * Strings that the engine indexes (type, stream, id, org) are restricted by validation
 * to characters that need no JSON escaping, so they are copied out verbatim.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    HS_FIELD_CAP = 256,
    HS_MESSAGE_CAP = 256,
    HS_RULE_CAP = 64,
};

/* What kind of problem a refused line has; mirrored by `EnvelopeError.Kind` in Swift. */
typedef enum hs_error_kind {
    HS_OK = 0,
    HS_ERR_SYNTAX = 1,       /* not JSON, invalid UTF-8, too deep */
    HS_ERR_NOT_OBJECT = 2,   /* the line is JSON but not an object */
    HS_ERR_DUPLICATE_KEY = 3,
    HS_ERR_MISSING = 4,      /* a required field is absent */
    HS_ERR_TYPE = 5,         /* a field has the wrong JSON type */
    HS_ERR_FORMAT = 6,       /* a string does not have the required form */
    HS_ERR_UNKNOWN_FIELD = 7,
    HS_ERR_RESERVED = 8,     /* a field only the engine may set */
    HS_ERR_SCHEMA = 9,       /* `data` does not fit its type's schema */
    HS_ERR_SECRET = 10,      /* `data` carries what looks like a secret */
    HS_ERR_UNKNOWN_TYPE = 11,/* no schema for the type, or for its schemaVersion */
} hs_error_kind;

typedef struct hs_error {
    int kind;
    char path[HS_FIELD_CAP];       /* JSON Pointer to the offending field, "" for the line */
    char message[HS_MESSAGE_CAP];
    char rule[HS_RULE_CAP];        /* the rule broken: a schema keyword or a common.json definition */
    char type[HS_FIELD_CAP];       /* the event's type, once known */
} hs_error;

/* A producer's event id as its 128 bits: UUIDs (any case) and ULIDs (any case) kept apart. */
typedef enum hs_id_kind { HS_ID_NONE = 0, HS_ID_UUID = 1, HS_ID_ULID = 2 } hs_id_kind;
typedef struct hs_event_id {
    int kind;
    uint64_t high, low;
} hs_event_id;

/* The envelope fields the writer needs. */
typedef struct hs_envelope {
    size_t stream_offset;           /* where the stream's name starts in `out` */
    size_t stream_length;
    int64_t occurred_at_ms;         /* milliseconds since the Unix epoch */
    size_t minified_length;         /* bytes written to `out` */
    hs_event_id event_id;
    uint64_t stream_hash;           /* FNV-1a of `stream`, so the writer's table need not hash it */
    int schema_index;               /* the catalogue schema that checked `data`; -1 without a catalogue */
    int personal;                   /* 1 when the schema marks personal fields, which must be sealed */
} hs_envelope;

/* The engine's fields of a stored line. */
typedef struct hs_stored {
    uint64_t seq;
    uint64_t stream_version;
    char type[HS_FIELD_CAP];
    char stream[HS_FIELD_CAP];
    char id[HS_FIELD_CAP];
    char org[HS_FIELD_CAP];
    char actor_kind[HS_FIELD_CAP];
    char actor_id[HS_FIELD_CAP];
    int64_t occurred_at_ms;
    int64_t schema_version;         /* 1 when the line has none */
    hs_event_id event_id;
    uint64_t stream_hash;           /* FNV-1a of `stream` */
} hs_stored;

typedef struct hs_parser hs_parser;
typedef struct hs_catalog hs_catalog;

/* Bytes that must be readable (any value) after every input passed to the parser. */
size_t hs_padding(void);

hs_parser *hs_parser_create(void);
void hs_parser_destroy(hs_parser *parser);

/*
 * Validates one producer envelope (the line without its newline) and, given a catalogue,
 * its `data` against the schema of its type and version. On success returns
 * HS_OK, fills `env`, and writes the object to `out` (capacity >= len) minified, with its
 * fields in the engine's canonical order (type, stream, org, actor, data, occurredAt, id,
 * correlationId, causationId, schemaVersion). `out` may be `line` itself.
 * On failure returns the error kind and fills `err`; `out` and `env` are unspecified.
 */
int hs_parse_envelope(hs_parser *parser, const hs_catalog *catalog, const uint8_t *line, size_t len,
                      uint8_t *out, hs_envelope *env, hs_error *err);

/* Reads the engine's fields of one stored line. */
int hs_parse_stored(hs_parser *parser, const uint8_t *line, size_t len,
                    hs_stored *stored, hs_error *err);

/*
 * The entities a stored line's `data` names, written to `out` as "KIND/ID\n" lines, each
 * once, in order of appearance: each string value that is an identifier with a kind's
 * prefix (`prj_9` is `project/prj_9`), a `KIND/ID` of a known kind or `domain`, or the
 * value of a `domain` member. Values with a space, and values without `_`, `/` or `.`,
 * name nothing (sealed personal data never does). Returns the bytes written; references
 * that would not fit in `cap` are left out.
 */
size_t hs_references(const uint8_t *line, size_t len, char *out, size_t cap);

/*
 * The top-level members of a stored line's `data` object, in order: for each, four offsets
 * into the line, written to `out` — where its name starts and ends (inside the quotes) and
 * where its value starts and ends. Returns how many members there are (those beyond `cap`
 * are counted but not written), or -1 when the line has no `data` object.
 */
long hs_data_members(const uint8_t *line, size_t len, uint32_t *out, size_t cap);

/* Parses an RFC 3339 UTC timestamp with milliseconds ("2026-03-01T09:30:00.000Z"). */
int hs_parse_timestamp(const char *text, size_t len, int64_t *ms);

#ifdef __cplusplus
}
#endif
#endif
