// simdjson-backed envelope validation for Hindsight's append path. See hs_json.h.
#include "hs_internal.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>
#include <string_view>
#include <unordered_set>

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

struct hs_parser {
    simdjson::dom::parser dom;
    simdjson::ondemand::parser ondemand;
    std::string minified;   // scratch for hs_parse_envelope
    std::string canonical;  // scratch for hs_parse_envelope
};

namespace {

using hs::append_pointer_token;
using hs::is_digit;
using hs::is_identifier;
using hs::is_lower;
using hs::set_error;

bool copy_field(char *dst, std::string_view src) {
    if (src.size() >= HS_FIELD_CAP) return false;
    std::memcpy(dst, src.data(), src.size());
    dst[src.size()] = 0;
    return true;
}

// "KIND/ID": a lowercase kind, a slash, an identifier.
bool is_stream(std::string_view s) {
    size_t slash = s.find('/');
    if (slash == std::string_view::npos || slash == 0 || s.size() > 160) return false;
    std::string_view kind = s.substr(0, slash);
    if (!is_lower(kind[0])) return false;
    for (char c : kind)
        if (!(is_lower(c) || is_digit(c) || c == '_')) return false;
    return is_identifier(s.substr(slash + 1), 150);
}

// Digit values of hexadecimal (UUID) and Crockford base-32 (ULID) characters; -1 elsewhere.
struct DigitTables {
    int8_t hex[256];
    int8_t crockford[256];
    DigitTables() {
        for (int c = 0; c < 256; c++) hex[c] = crockford[c] = -1;
        for (int c = 0; c < 10; c++) hex['0' + c] = int8_t(c);
        for (int c = 0; c < 6; c++) hex['a' + c] = hex['A' + c] = int8_t(10 + c);
        const char *alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        for (int v = 0; v < 32; v++) {
            char c = alphabet[v];
            crockford[uint8_t(c)] = int8_t(v);
            if (c >= 'A') crockford[uint8_t(c + ('a' - 'A'))] = int8_t(v);
        }
    }
};
const DigitTables digits;

// Decodes a UUID (8-4-4-4-12 hex, any case) or a ULID (26 Crockford base-32 characters,
// any case) into its 128 bits; kind HS_ID_NONE when the string is neither.
hs_event_id decode_event_id(std::string_view s) {
    hs_event_id id{HS_ID_NONE, 0, 0};
    if (s.size() == 36) {
        uint64_t words[2] = {0, 0};
        int nibble = 0;
        for (size_t i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (s[i] != '-') return id;
                continue;
            }
            int v = digits.hex[uint8_t(s[i])];
            if (v < 0) return id;
            words[nibble / 16] = (words[nibble / 16] << 4) | uint64_t(v);
            nibble++;
        }
        id = {HS_ID_UUID, words[0], words[1]};
    } else if (s.size() == 26) {
        if (digits.crockford[uint8_t(s[0])] > 7) return id;  // 128 bits: the first character is at most 7
        unsigned __int128 value = 0;
        for (char c : s) {
            int v = digits.crockford[uint8_t(c)];
            if (v < 0) return id;
            value = (value << 5) | unsigned(v);
        }
        id = {HS_ID_ULID, uint64_t(value >> 64), uint64_t(value)};
    }
    return id;
}

uint64_t fnv1a(std::string_view s) {
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (char c : s) hash = (hash ^ uint8_t(c)) * 0x100000001b3ULL;
    return hash;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

constexpr size_t not_compact = SIZE_MAX;

// Skips one JSON value in valid JSON text; returns the index just after it, or
// `not_compact` if the value holds white space outside strings (the text needs minifying).
size_t skip_value(const char *text, size_t i) {
    if (text[i] == '"') {
        for (i++; text[i] != '"'; i++)
            if (text[i] == '\\') i++;
        return i + 1;
    }
    if (text[i] == '{' || text[i] == '[') {
        int depth = 0;
        do {
            char c = text[i];
            if (c == '"') {
                i = skip_value(text, i);
                continue;
            }
            if (is_space(c)) return not_compact;
            if (c == '{' || c == '[') depth++;
            else if (c == '}' || c == ']') depth--;
            i++;
        } while (depth > 0);
        return i;
    }
    while (text[i] != ',' && text[i] != '}' && text[i] != ']') {
        if (is_space(text[i])) return not_compact;
        i++;
    }
    return i;
}

// A JSON string's contents (between the quotes), unescaped to UTF-8.
std::string unescaped(std::string_view raw) {
    std::string out;
    for (size_t k = 0; k < raw.size(); k++) {
        if (raw[k] != '\\') { out.push_back(raw[k]); continue; }
        char e = raw[++k];
        if (e != 'u') {
            out.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e);
            continue;
        }
        uint32_t code = uint32_t(std::stoul(std::string(raw.substr(k + 1, 4)), nullptr, 16));
        k += 4;
        if (code >= 0xD800 && code < 0xDC00 && k + 6 < raw.size() && raw.substr(k + 1, 2) == "\\u") {
            uint32_t low = uint32_t(std::stoul(std::string(raw.substr(k + 3, 4)), nullptr, 16));
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            k += 6;
        }
        if (code < 0x80) out.push_back(char(code));
        else if (code < 0x800) { out.push_back(char(0xC0 | (code >> 6))); out.push_back(char(0x80 | (code & 0x3F))); }
        else if (code < 0x10000) {
            out.push_back(char(0xE0 | (code >> 12))); out.push_back(char(0x80 | ((code >> 6) & 0x3F))); out.push_back(char(0x80 | (code & 0x3F)));
        } else {
            out.push_back(char(0xF0 | (code >> 18))); out.push_back(char(0x80 | ((code >> 12) & 0x3F)));
            out.push_back(char(0x80 | ((code >> 6) & 0x3F))); out.push_back(char(0x80 | (code & 0x3F)));
        }
    }
    return out;
}

// The envelope's fields in the order the engine stores them: what varies least from one
// event to the next first, so that LZ4 finds longer matches (see docs/log-format.md).
const char *const canonical_order[] = {
    "type", "stream", "org", "actor", "data", "occurredAt", "id", "correlationId", "causationId", "schemaVersion",
};
constexpr size_t canonical_count = sizeof canonical_order / sizeof canonical_order[0];
const size_t canonical_lengths[] = {4, 6, 3, 5, 4, 10, 2, 13, 11, 13};

// Writes a validated envelope object that has no white space outside strings to `out`,
// its top-level fields in canonical order, its keys unescaped (validation has mapped each
// to a known name) and its stream as `stream`, whose position it reports. Returns the
// bytes written, or `not_compact` if the text has white space outside strings and must be
// minified first.
size_t write_canonical(const char *text, uint8_t *out, std::string_view stream, size_t *stream_offset) {
    std::string_view values[canonical_count];
    if (text[0] != '{') return not_compact;
    size_t i = 1;
    while (text[i] != '}') {
        if (text[i] != '"') return not_compact;
        size_t key_end = skip_value(text, i);
        std::string_view key(text + i + 1, key_end - i - 2);
        std::string decoded;
        if (key.find('\\') != std::string_view::npos) {
            decoded = unescaped(key);
            key = decoded;
        }
        if (text[key_end] != ':') return not_compact;
        size_t value_start = key_end + 1;
        size_t value_end = skip_value(text, value_start);
        if (value_end == not_compact) return not_compact;
        for (size_t f = 0; f < canonical_count; f++)
            if (key == canonical_order[f]) values[f] = std::string_view(text + value_start, value_end - value_start);
        if (text[value_end] == ',') i = value_end + 1;
        else if (text[value_end] == '}') i = value_end;
        else return not_compact;
    }
    size_t n = 0;
    out[n++] = '{';
    for (size_t f = 0; f < canonical_count; f++) {
        if (values[f].empty()) continue;
        if (n > 1) out[n++] = ',';
        out[n++] = '"';
        std::memcpy(out + n, canonical_order[f], canonical_lengths[f]);
        n += canonical_lengths[f];
        out[n++] = '"';
        out[n++] = ':';
        if (f == 1) {
            // The stream as validation decoded it (identifier characters need no escaping), so
            // its bytes in the stored line are the stream's name itself.
            out[n++] = '"';
            *stream_offset = n;
            std::memcpy(out + n, stream.data(), stream.size());
            n += stream.size();
            out[n++] = '"';
            continue;
        }
        std::memcpy(out + n, values[f].data(), values[f].size());
        n += values[f].size();
    }
    out[n++] = '}';
    return n;
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Recursively refuses duplicate keys anywhere in the document, except inside the top-level
// field `skip` (the catalogue's validator checks `data` as it walks it). On finding one it
// returns the JSON Pointer to it, built as the recursion unwinds, so valid input builds no
// paths.
bool check_duplicates(element value, std::string &duplicate_path, std::string_view skip = {}) {
    if (value.type() == element_type::OBJECT) {
        object obj = value.get_object().value_unsafe();
        size_t count = obj.size();
        if (count > 1) {
            bool duplicate = false;
            std::string_view duplicate_key;
            if (count <= 16) {
                std::string_view keys[16];
                size_t i = 0;
                for (auto field : obj) {
                    for (size_t j = 0; j < i && !duplicate; j++)
                        if (keys[j] == field.key) { duplicate = true; duplicate_key = field.key; }
                    keys[i++] = field.key;
                    if (duplicate) break;
                }
            } else {
                std::unordered_set<std::string_view> seen;
                for (auto field : obj)
                    if (!seen.insert(field.key).second) { duplicate = true; duplicate_key = field.key; break; }
            }
            if (duplicate) {
                append_pointer_token(duplicate_path, duplicate_key);
                return false;
            }
        }
        for (auto field : obj) {
            element_type t = field.value.type();
            if ((t != element_type::OBJECT && t != element_type::ARRAY) || (!skip.empty() && field.key == skip)) continue;
            if (!check_duplicates(field.value, duplicate_path)) {
                std::string prefix;
                append_pointer_token(prefix, field.key);
                duplicate_path.insert(0, prefix);
                return false;
            }
        }
    } else if (value.type() == element_type::ARRAY) {
        size_t index = 0;
        for (element item : value.get_array().value_unsafe()) {
            element_type t = item.type();
            if ((t == element_type::OBJECT || t == element_type::ARRAY) && !check_duplicates(item, duplicate_path)) {
                duplicate_path.insert(0, "/" + std::to_string(index));
                return false;
            }
            index++;
        }
    }
    return true;
}

int parse_document(hs_parser *parser, const uint8_t *line, size_t len, element &doc, hs_error *err) {
    auto result = parser->dom.parse(line, len, false);
    if (result.error()) {
        set_error(err, HS_ERR_SYNTAX, "", "not valid JSON: %s", simdjson::error_message(result.error()));
        return HS_ERR_SYNTAX;
    }
    doc = result.value_unsafe();
    if (doc.type() != element_type::OBJECT) {
        set_error(err, HS_ERR_NOT_OBJECT, "", "each line must be a JSON object");
        return HS_ERR_NOT_OBJECT;
    }
    return HS_OK;
}

bool require_string(element value, const char *path, std::string_view &out, hs_error *err) {
    if (value.type() != element_type::STRING) {
        set_error(err, HS_ERR_TYPE, path, "must be a string");
        return false;
    }
    out = value.get_string().value_unsafe();
    return true;
}

enum EnvelopeField : unsigned {
    F_TYPE = 1, F_STREAM = 2, F_OCCURRED = 4, F_ACTOR = 8, F_ORG = 16, F_DATA = 32,
};

int check_actor(element value, hs_error *err) {
    if (value.type() != element_type::OBJECT) {
        set_error(err, HS_ERR_TYPE, "/actor", "must be an object {\"kind\", \"id\"}");
        return err->kind;
    }
    bool has_kind = false, has_id = false;
    for (auto field : value.get_object().value_unsafe()) {
        std::string_view s;
        if (field.key == "kind") {
            if (!require_string(field.value, "/actor/kind", s, err)) return err->kind;
            if (s != "user" && s != "token" && s != "system") {
                set_error(err, HS_ERR_FORMAT, "/actor/kind", "must be one of user, token, system");
                return err->kind;
            }
            has_kind = true;
        } else if (field.key == "id") {
            if (!require_string(field.value, "/actor/id", s, err)) return err->kind;
            if (s.empty() || s.size() > 128) {
                set_error(err, HS_ERR_FORMAT, "/actor/id", "must be a non-empty string of at most 128 bytes");
                return err->kind;
            }
            has_id = true;
        } else {
            std::string path = "/actor";
            append_pointer_token(path, field.key);
            set_error(err, HS_ERR_UNKNOWN_FIELD, path, "unknown field (actor has only kind and id)");
            return err->kind;
        }
    }
    if (!has_kind) { set_error(err, HS_ERR_MISSING, "/actor/kind", "required field is missing"); return err->kind; }
    if (!has_id) { set_error(err, HS_ERR_MISSING, "/actor/id", "required field is missing"); return err->kind; }
    return HS_OK;
}

}  // namespace

extern "C" {

size_t hs_padding(void) { return simdjson::SIMDJSON_PADDING; }

hs_parser *hs_parser_create(void) {
    try {
        return new hs_parser();
    } catch (...) {
        return nullptr;
    }
}

void hs_parser_destroy(hs_parser *parser) { delete parser; }

int hs_parse_timestamp(const char *t, size_t len, int64_t *ms) {
    // YYYY-MM-DDTHH:MM:SS.mmmZ
    if (len != 24 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':' ||
        t[19] != '.' || t[23] != 'Z')
        return HS_ERR_FORMAT;
    const int digits[] = {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22};
    for (int i : digits)
        if (!is_digit(t[i])) return HS_ERR_FORMAT;
    auto num = [&](int at, int n) {
        int v = 0;
        for (int i = 0; i < n; i++) v = v * 10 + (t[at + i] - '0');
        return v;
    };
    int year = num(0, 4), month = num(5, 2), day = num(8, 2);
    int hour = num(11, 2), minute = num(14, 2), second = num(17, 2), millis = num(20, 3);
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12 || day < 1) return HS_ERR_FORMAT;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    int max_day = month_days[month - 1] + (month == 2 && leap ? 1 : 0);
    if (day > max_day || hour > 23 || minute > 59 || second > 59) return HS_ERR_FORMAT;
    int64_t days = days_from_civil(year, unsigned(month), unsigned(day));
    *ms = ((days * 24 + hour) * 60 + minute) * 60000LL + second * 1000LL + millis;
    return HS_OK;
}

int hs_parse_envelope(hs_parser *parser, const hs_catalog *catalog, const uint8_t *line, size_t len,
                      uint8_t *out, hs_envelope *env, hs_error *err) {
    err->type[0] = 0;
    element doc;
    if (int rc = parse_document(parser, line, len, doc, err)) return rc;
    std::string duplicate;
    if (!check_duplicates(doc, duplicate, catalog ? "data" : "")) {
        set_error(err, HS_ERR_DUPLICATE_KEY, duplicate, "duplicate key in object");
        return err->kind;
    }

    unsigned seen = 0;
    std::string_view stream, type;
    element data;
    int64_t version = 1;
    env->schema_index = -1;
    env->personal = 0;
    env->event_id = hs_event_id{HS_ID_NONE, 0, 0};
    for (auto field : doc.get_object().value_unsafe()) {
        std::string_view key = field.key, s;
        element value = field.value;
        if (key == "type") {
            if (!require_string(value, "/type", s, err)) return err->kind;
            if (!hs::is_event_type(s)) {
                set_error(err, HS_ERR_FORMAT, "/type", "must be an event type such as \"build.started\"");
                return err->kind;
            }
            type = s;
            seen |= F_TYPE;
        } else if (key == "stream") {
            if (!require_string(value, "/stream", s, err)) return err->kind;
            if (!is_stream(s)) {
                set_error(err, HS_ERR_FORMAT, "/stream", "must be KIND/ID such as \"build/b_81f2\"");
                return err->kind;
            }
            stream = s;
            env->stream_hash = fnv1a(s);
            env->stream_length = s.size();
            seen |= F_STREAM;
        } else if (key == "occurredAt") {
            if (!require_string(value, "/occurredAt", s, err)) return err->kind;
            if (hs_parse_timestamp(s.data(), s.size(), &env->occurred_at_ms) != HS_OK) {
                set_error(err, HS_ERR_FORMAT, "/occurredAt",
                          "must be an RFC 3339 UTC timestamp with milliseconds, e.g. 2026-03-01T09:30:00.000Z");
                hs::set_rule(err, "timestamp");
                return err->kind;
            }
            seen |= F_OCCURRED;
        } else if (key == "actor") {
            if (int rc = check_actor(value, err)) return rc;
            seen |= F_ACTOR;
        } else if (key == "org") {
            if (!require_string(value, "/org", s, err)) return err->kind;
            if (!is_identifier(s, 128)) {
                set_error(err, HS_ERR_FORMAT, "/org", "must be an identifier such as \"org_1\"");
                return err->kind;
            }
            seen |= F_ORG;
        } else if (key == "data") {
            if (value.type() != element_type::OBJECT) {
                set_error(err, HS_ERR_TYPE, "/data", "must be an object");
                return err->kind;
            }
            data = value;
            seen |= F_DATA;
        } else if (key == "id") {
            if (!require_string(value, "/id", s, err)) return err->kind;
            env->event_id = decode_event_id(s);
            if (env->event_id.kind == HS_ID_NONE) {
                set_error(err, HS_ERR_FORMAT, "/id", "must be a UUID or a ULID");
                return err->kind;
            }
        } else if (key == "correlationId" || key == "causationId") {
            std::string p = "/" + std::string(key);
            if (!require_string(value, p.c_str(), s, err)) return err->kind;
            if (s.empty() || s.size() > 128) {
                set_error(err, HS_ERR_FORMAT, p, "must be a non-empty string of at most 128 bytes");
                return err->kind;
            }
        } else if (key == "schemaVersion") {
            int64_t v;
            if (value.type() != element_type::INT64 && value.type() != element_type::UINT64) {
                set_error(err, HS_ERR_TYPE, "/schemaVersion", "must be a positive integer");
                return err->kind;
            }
            if (value.get_int64().get(v) || v < 1) {
                set_error(err, HS_ERR_FORMAT, "/schemaVersion", "must be a positive integer");
                hs::set_rule(err, "minimum");
                return err->kind;
            }
            version = v;
        } else if (key == "seq" || key == "streamVersion" || key == "recordedAt") {
            std::string p;
            append_pointer_token(p, key);
            set_error(err, HS_ERR_RESERVED, p, "is set by the engine when it stores the event; producers must not send it");
            return err->kind;
        } else {
            std::string p;
            append_pointer_token(p, key);
            set_error(err, HS_ERR_UNKNOWN_FIELD, p, "unknown envelope field");
            return err->kind;
        }
    }
    static const struct { unsigned bit; const char *path; } required[] = {
        {F_TYPE, "/type"}, {F_STREAM, "/stream"}, {F_OCCURRED, "/occurredAt"},
        {F_ACTOR, "/actor"}, {F_ORG, "/org"}, {F_DATA, "/data"},
    };
    for (auto &r : required)
        if (!(seen & r.bit)) {
            set_error(err, HS_ERR_MISSING, r.path, "required field is missing");
            return err->kind;
        }
    if (catalog) {
        hs::copy_text(err->type, HS_FIELD_CAP, type);
        bool personal = false;
        if (int rc = hs::validate_data(catalog, type, version, data, &env->schema_index, &personal, err)) return rc;
        env->personal = personal;
    }

    // Most producers send compact JSON; only text with white space needs the minifying pass.
    // The result goes through scratch space, so `out` may be `line` itself.
    parser->canonical.resize(len + 1);
    uint8_t *scratch = reinterpret_cast<uint8_t *>(parser->canonical.data());
    size_t written = write_canonical(reinterpret_cast<const char *>(line), scratch, stream, &env->stream_offset);
    if (written == not_compact) {
        size_t minified_length = 0;
        parser->minified.resize(len + simdjson::SIMDJSON_PADDING);
        if (simdjson::minify(reinterpret_cast<const char *>(line), len, parser->minified.data(), minified_length)) {
            set_error(err, HS_ERR_SYNTAX, "", "not valid JSON");
            return HS_ERR_SYNTAX;
        }
        parser->minified.resize(minified_length + 1);  // keeps a terminator readable after the text
        written = write_canonical(parser->minified.data(), scratch, stream, &env->stream_offset);
    }
    std::memcpy(out, scratch, written);
    env->minified_length = written;
    return HS_OK;
}

// Stored lines were validated when appended and their checksums have passed, so they are
// read with simdjson's on-demand API, which skips what is not asked for (actor, data).
int hs_parse_stored(hs_parser *parser, const uint8_t *line, size_t len, hs_stored *stored, hs_error *err) {
    stored->id[0] = 0;
    stored->org[0] = 0;
    stored->actor_kind[0] = 0;
    stored->actor_id[0] = 0;
    stored->schema_version = 1;
    stored->event_id = hs_event_id{HS_ID_NONE, 0, 0};
    unsigned found = 0;
    simdjson::ondemand::document doc;
    if (parser->ondemand.iterate(reinterpret_cast<const char *>(line), len, len + simdjson::SIMDJSON_PADDING).get(doc)) {
        set_error(err, HS_ERR_SYNTAX, "", "not valid JSON");
        return err->kind;
    }
    simdjson::ondemand::object object;
    if (doc.get_object().get(object)) {
        set_error(err, HS_ERR_NOT_OBJECT, "", "each line must be a JSON object");
        return err->kind;
    }
    for (auto field : object) {
        std::string_view key, s;
        if (field.unescaped_key().get(key)) {
            set_error(err, HS_ERR_SYNTAX, "", "not valid JSON");
            return err->kind;
        }
        auto value = field.value();
        if (key == "seq") {
            if (value.get_uint64().get(stored->seq)) { set_error(err, HS_ERR_TYPE, "/seq", "must be an integer"); return err->kind; }
            found |= 1;
        } else if (key == "streamVersion") {
            if (value.get_uint64().get(stored->stream_version)) { set_error(err, HS_ERR_TYPE, "/streamVersion", "must be an integer"); return err->kind; }
            found |= 2;
        } else if (key == "type") {
            if (value.get_string().get(s) || !copy_field(stored->type, s)) { set_error(err, HS_ERR_TYPE, "/type", "must be a string"); return err->kind; }
            found |= 4;
        } else if (key == "stream") {
            if (value.get_string().get(s) || !copy_field(stored->stream, s)) { set_error(err, HS_ERR_TYPE, "/stream", "must be a string"); return err->kind; }
            stored->stream_hash = fnv1a(s);
            found |= 8;
        } else if (key == "occurredAt") {
            if (value.get_string().get(s) || hs_parse_timestamp(s.data(), s.size(), &stored->occurred_at_ms)) {
                set_error(err, HS_ERR_FORMAT, "/occurredAt", "must be an RFC 3339 UTC timestamp with milliseconds");
                return err->kind;
            }
            found |= 16;
        } else if (key == "id") {
            if (value.get_string().get(s) || !copy_field(stored->id, s)) { set_error(err, HS_ERR_TYPE, "/id", "must be a string"); return err->kind; }
            stored->event_id = decode_event_id(s);
        } else if (key == "org") {
            if (value.get_string().get(s) || !copy_field(stored->org, s)) { set_error(err, HS_ERR_TYPE, "/org", "must be a string"); return err->kind; }
        } else if (key == "schemaVersion") {
            if (value.get_int64().get(stored->schema_version)) { set_error(err, HS_ERR_TYPE, "/schemaVersion", "must be an integer"); return err->kind; }
        } else if (key == "actor") {
            simdjson::ondemand::object actor;
            if (value.get_object().get(actor)) { set_error(err, HS_ERR_TYPE, "/actor", "must be an object"); return err->kind; }
            for (auto member : actor) {
                std::string_view name, text;
                if (member.unescaped_key().get(name) || member.value().get_string().get(text)) continue;
                if (name == "kind") copy_field(stored->actor_kind, text);
                else if (name == "id") copy_field(stored->actor_id, text);
            }
        }
    }
    static const char *names[] = {"/seq", "/streamVersion", "/type", "/stream", "/occurredAt"};
    for (int i = 0; i < 5; i++)
        if (!(found & (1u << i))) { set_error(err, HS_ERR_MISSING, names[i], "required field is missing"); return err->kind; }
    return HS_OK;
}

}  // extern "C"

namespace {

// Where a stored line's `data` object starts (its opening brace), or SIZE_MAX. `,"data":{`
// cannot occur inside a string (a quote there is escaped): the first is the envelope's.
size_t data_object(const uint8_t *bytes, size_t len) {
    static constexpr std::string_view data_member = ",\"data\":{";
    const void *found = memmem(bytes, len, data_member.data(), data_member.size());
    if (found == nullptr) return SIZE_MAX;
    return size_t(static_cast<const uint8_t *>(found) - bytes) + data_member.size() - 1;
}

// The index just past the string whose opening quote is at `i` (len when it is unterminated).
size_t string_end(const char *text, size_t len, size_t i) {
    for (i++; i < len && text[i] != '"'; i++)
        if (text[i] == '\\') i++;
    return i < len ? i + 1 : len;
}

}  // namespace

extern "C" {

long hs_data_members(const uint8_t *bytes, size_t len, uint32_t *out, size_t cap) {
    size_t start = data_object(bytes, len);
    if (start == SIZE_MAX) return -1;
    const char *text = reinterpret_cast<const char *>(bytes);
    long count = 0;
    size_t i = start + 1;
    while (i < len && text[i] == '"') {
        size_t name_end = string_end(text, len, i);
        if (name_end >= len || text[name_end] != ':') break;
        size_t value = name_end + 1, end = value;
        // The value: a string, an object or array (to its matching close), or a scalar.
        int depth = 0;
        while (end < len) {
            char c = text[end];
            if (c == '"') {
                end = string_end(text, len, end);
                if (depth == 0) break;
                continue;
            }
            if (c == '{' || c == '[') depth++;
            else if (c == '}' || c == ']') {
                if (depth == 0) break;  // the end of `data`: a scalar ends here
                if (--depth == 0) {
                    end++;
                    break;
                }
            } else if (c == ',' && depth == 0) break;
            end++;
        }
        if (size_t(count) < cap) {
            uint32_t *member = out + 4 * count;
            member[0] = uint32_t(i + 1), member[1] = uint32_t(name_end - 1), member[2] = uint32_t(value), member[3] = uint32_t(end);
        }
        count++;
        if (end >= len || text[end] != ',') break;
        i = end + 1;
    }
    return count;
}

size_t hs_references(const uint8_t *bytes, size_t len, char *out, size_t cap) {
    std::string_view line(reinterpret_cast<const char *>(bytes), len);
    size_t start = data_object(bytes, len);
    if (start == SIZE_MAX) return 0;
    size_t written = 0;
    // Writes `kind/` (when given) and `id` as the next line of `out`, unless an earlier line
    // says the same or it would not fit.
    auto add = [&](std::string_view kind, std::string_view id) {
        size_t size = (kind.empty() ? 0 : kind.size() + 1) + id.size();
        if (written + size + 1 > cap) return;
        char *line = out + written;
        if (!kind.empty()) {
            std::memcpy(line, kind.data(), kind.size());
            line[kind.size()] = '/';
        }
        std::memcpy(line + size - id.size(), id.data(), id.size());
        std::string_view candidate(line, size);
        for (size_t begin = 0; begin < written;) {
            size_t end = begin;
            while (out[end] != '\n') end++;
            if (std::string_view(out + begin, end - begin) == candidate) return;
            begin = end + 1;
        }
        written += size;
        out[written++] = '\n';
    };
    auto name = [&](std::string_view value, std::string_view key) {
        if (key == "domain") return add("domain", value);
        size_t slash = value.find('/');
        if (slash != std::string_view::npos) {
            std::string_view kind = value.substr(0, slash);
            if (kind == "domain") return add({}, value);
            for (auto &k : hs::id_kinds)
                if (kind == k.kind) return add({}, value);
            return;
        }
        // Every prefix ends with its first `_`.
        size_t underscore = value.find('_');
        if (underscore == std::string_view::npos || underscore + 1 == value.size()) return;
        std::string_view head = value.substr(0, underscore + 1);
        for (auto &k : hs::id_kinds)
            if (head == k.prefix) return add(k.kind, value);
    };
    // Strings are read in place; the rare one with escapes is unescaped into `decoded`, which
    // lives as long as the scan, so that views of it stay valid.
    std::vector<std::string> decoded;
    auto text_of = [&](std::string_view raw, bool escaped) -> std::string_view {
        if (!escaped) return raw;
        decoded.reserve(64);
        if (decoded.size() == decoded.capacity()) return raw;  // more escaped strings than kept: read as they are
        decoded.push_back(unescaped(raw));
        return decoded.back();
    };
    // One pass over `data`, which ends where its depth returns to 0. Member names by depth:
    // a value in an array counts as the array's member. Beyond `max_depth` levels, values
    // count as the deepest kept level's.
    constexpr size_t max_depth = simdjson::DEFAULT_MAX_DEPTH;  // as deep as an appended event can be
    struct Level {  // plain data, so that the array is not zeroed on every call
        const char *key;
        size_t key_size;
        bool object;
    };
    Level levels[max_depth];
    auto key_of = [&](size_t level) { return level == 0 ? std::string_view() : std::string_view(levels[level - 1].key, levels[level - 1].key_size); };
    size_t depth = 0;
    std::string_view pending;
    bool has_pending = false;
    for (size_t i = start; i < len;) {
        char c = line[i];
        if (c == '{' || c == '[') {
            if (depth < max_depth) {
                std::string_view key = has_pending ? pending : key_of(depth);
                levels[depth] = {key.data(), key.size(), c == '{'};
            }
            depth++;
            has_pending = false;
            i++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) break;
            i++;
        } else if (c == '"') {
            size_t close = i + 1;
            bool escaped = false;
            while (close < len && line[close] != '"') {
                if (line[close] == '\\') {
                    escaped = true;
                    close++;
                }
                close++;
            }
            if (close >= len) break;  // not JSON: an unterminated string
            std::string_view text = text_of(line.substr(i + 1, close - i - 1), escaped);
            i = close + 1;
            size_t level = std::min(depth, max_depth);
            if (i < len && line[i] == ':' && level > 0 && levels[level - 1].object) {
                pending = text;
                has_pending = true;
                continue;
            }
            bool marked = false, spaced = false;
            for (char b : text) {
                spaced |= b == ' ';
                marked |= b == '_' || b == '/' || b == '.';
            }
            if (marked && !spaced) name(text, has_pending ? pending : key_of(level));
            has_pending = false;
        } else {
            if (c == ',') has_pending = false;
            i++;
        }
    }
    return written;
}

}  // extern "C"
