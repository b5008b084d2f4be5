// What hs_json.cpp and hs_catalog.cpp share: error reporting, JSON Pointers, and the
// character classes of the catalogue's identifiers.
#pragma once

#include "hs_catalog.h"
#include "hs_json.h"

#include <simdjson.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace hs {

// The rule a kind of envelope error breaks, named as JSON Schema would name it.
inline const char *default_rule(int kind) {
    switch (kind) {
        case HS_ERR_SYNTAX: return "syntax";
        case HS_ERR_NOT_OBJECT: return "type";
        case HS_ERR_DUPLICATE_KEY: return "duplicateKey";
        case HS_ERR_MISSING: return "required";
        case HS_ERR_TYPE: return "type";
        case HS_ERR_UNKNOWN_FIELD: return "additionalProperties";
        case HS_ERR_RESERVED: return "reserved";
        default: return "format";
    }
}

inline void copy_text(char *dst, size_t cap, std::string_view src) {
    size_t n = src.size() < cap - 1 ? src.size() : cap - 1;
    std::memcpy(dst, src.data(), n);
    dst[n] = 0;
}

inline void set_error(hs_error *err, int kind, std::string_view path, const char *fmt, const char *arg = nullptr) {
    err->kind = kind;
    copy_text(err->path, HS_FIELD_CAP, path);
    copy_text(err->rule, HS_RULE_CAP, default_rule(kind));
    std::snprintf(err->message, HS_MESSAGE_CAP, fmt, arg ? arg : "");
}

inline void set_rule(hs_error *err, std::string_view rule) { copy_text(err->rule, HS_RULE_CAP, rule); }

inline void append_pointer_token(std::string &path, std::string_view key) {
    path.push_back('/');
    for (char c : key) {
        if (c == '~') path += "~0";
        else if (c == '/') path += "~1";
        else path.push_back(c);
    }
}

inline bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
inline bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alnum(char c) { return is_lower(c) || is_digit(c) || is_upper(c); }
inline bool is_lower_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }
inline bool is_identifier_char(char c) { return is_alnum(c) || c == '_' || c == '.' || c == ':' || c == '-'; }

// Every kind of identifier and its prefix (`prj_9` is a project); `referable` kinds may be
// named as `KIND/ID` in a reference field.
struct IdKind {
    std::string_view kind;
    std::string_view prefix;
    bool referable;
};
inline constexpr IdKind id_kinds[] = {
    {"org", "org_", true},          {"team", "team_", true},   {"project", "prj_", true},  {"build", "b_", true},
    {"function", "fn_", true},      {"database", "db_", true}, {"backup", "bak_", true},   {"webhook", "wh_", true},
    {"token", "tok_", true},        {"role", "role_", true},   {"grant", "grant_", true},  {"user", "usr_", true},
    {"invitation", "inv_", false},
};

// Identifier characters: letters, digits and _ . : - (never anything JSON escapes).
inline bool is_identifier(std::string_view s, size_t max) {
    if (s.empty() || s.size() > max || !is_alnum(s[0])) return false;
    for (char c : s)
        if (!is_identifier_char(c)) return false;
    return true;
}

// "build.started": dot-separated words of lowercase letters, digits and _, each starting
// with a letter.
inline bool is_event_type(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    bool word_start = true, saw_dot = false;
    for (char c : s) {
        if (word_start) {
            if (!is_lower(c)) return false;
            word_start = false;
        } else if (c == '.') {
            word_start = true;
            saw_dot = true;
        } else if (!(is_lower(c) || is_digit(c) || c == '_')) {
            return false;
        }
    }
    return saw_dot && !word_start;
}

// Checks an event's `data` against the schema for (type, version); on success stores the
// schema's index and whether the event holds personal data. Defined in hs_catalog.cpp.
int validate_data(const hs_catalog *catalog, std::string_view type, int64_t version,
                  simdjson::dom::element data, int *schema_index, bool *personal, hs_error *err);

}  // namespace hs
