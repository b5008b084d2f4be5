// The event catalogue compiled into native checks. See hs_catalog.h.
#include "hs_internal.hpp"

#include <cmath>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

namespace {

using hs::id_kinds;
using hs::is_alnum;
using hs::is_digit;
using hs::is_identifier;
using hs::is_identifier_char;
using hs::is_lower;
using hs::is_lower_hex;
using hs::set_error;
using hs::set_rule;

// MARK: - The native checks behind common.json's patterns

// `prefix` followed by 1 to (128 - prefix length) identifier characters.
bool is_prefixed_id(std::string_view s, std::string_view prefix) {
    if (s.size() <= prefix.size() || s.size() > 128 || s.substr(0, prefix.size()) != prefix) return false;
    for (char c : s.substr(prefix.size()))
        if (!is_identifier_char(c)) return false;
    return true;
}

bool is_hex(std::string_view s, size_t min, size_t max) {
    if (s.size() < min || s.size() > max) return false;
    for (char c : s)
        if (!is_lower_hex(c)) return false;
    return true;
}

// Dot-separated DNS labels (letters, digits, inner hyphens, at most 63 each), ending in a
// top-level label of 2 to 63 letters. Letters are lowercase unless `any_case`.
bool is_host(std::string_view s, bool any_case) {
    if (s.empty() || s.size() > 253) return false;
    auto letter = [&](char c) { return is_lower(c) || (any_case && hs::is_upper(c)); };
    size_t labels = 0, start = 0;
    while (start <= s.size()) {
        size_t dot = s.find('.', start);
        std::string_view label = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (label.empty() || label.size() > 63) return false;
        if (dot == std::string_view::npos) {  // the top-level label
            if (labels == 0 || label.size() < 2) return false;
            for (char c : label)
                if (!letter(c)) return false;
            return true;
        }
        if (label.front() == '-' || label.back() == '-') return false;
        for (char c : label)
            if (!(letter(c) || is_digit(c) || c == '-')) return false;
        labels++;
        start = dot + 1;
    }
    return false;
}

const char *const builtin_roles[] = {"owner", "admin", "developer", "viewer", "auditor"};
const char *const permission_kinds[] = {"org", "team", "project", "build", "function", "database", "backup", "token",
                                        "webhook", "env", "domain", "role", "audit", "metric", "alert"};
const char *const permission_actions[] = {"read", "create", "update", "delete", "deploy", "invoke", "query", "backup",
                                          "restore", "rotate", "revoke", "invite", "grant", "export"};
template <size_t N>
bool is_one_of(std::string_view s, const char *const (&names)[N]) {
    for (const char *name : names)
        if (s == name) return true;
    return false;
}

// "KIND/ID" whose id has the prefix of its kind (a domain's id is its host name); only the
// kinds in `allowed` (all when empty).
bool is_reference(std::string_view s, std::initializer_list<std::string_view> allowed) {
    size_t slash = s.find('/');
    if (slash == std::string_view::npos) return false;
    std::string_view kind = s.substr(0, slash), id = s.substr(slash + 1);
    if (allowed.size() > 0) {
        bool ok = false;
        for (auto a : allowed) ok = ok || a == kind;
        if (!ok) return false;
    }
    if (kind == "domain") return is_host(id, false);
    for (auto &k : id_kinds)
        if (k.referable && kind == k.kind) return is_prefixed_id(id, k.prefix);
    return false;
}

bool is_permission(std::string_view s) {
    if (s == "*") return true;
    size_t colon = s.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view kind = s.substr(0, colon), action = s.substr(colon + 1);
    return (kind == "*" || is_one_of(kind, permission_kinds)) && (action == "*" || is_one_of(action, permission_actions));
}

bool is_email(std::string_view s) {
    if (s.size() > 254) return false;
    size_t at = s.find('@');
    if (at == std::string_view::npos || at == 0 || at > 64) return false;
    static const std::string_view specials = ".!#$%&'*+/=?^_`{|}~-";
    for (char c : s.substr(0, at))
        if (!(is_alnum(c) || specials.find(c) != std::string_view::npos)) return false;
    return is_host(s.substr(at + 1), true);
}

bool is_url(std::string_view s) {
    size_t rest;
    if (s.substr(0, 8) == "https://") rest = 8;
    else if (s.substr(0, 7) == "http://") rest = 7;
    else return false;
    if (s.size() == rest || s.size() > 2048) return false;
    for (char c : s.substr(rest))
        if (c < '!' || c > '~') return false;
    return true;
}

bool is_word_start_then(std::string_view s, size_t max, bool (*first)(char), bool (*rest)(char)) {
    if (s.empty() || s.size() > max || !first(s[0])) return false;
    for (char c : s.substr(1))
        if (!rest(c)) return false;
    return true;
}

using NativeCheck = bool (*)(std::string_view);

// Each shared definition with a `pattern`, and the native check that implements it. A test
// runs every definition's examples and counter-examples, and many variations of them,
// through both the pattern and this check.
const std::map<std::string, NativeCheck, std::less<>> &native_checks() {
    static const std::map<std::string, NativeCheck, std::less<>> checks = {
        {"identifier", [](std::string_view s) { return is_identifier(s, 128); }},
        {"userId", [](std::string_view s) { return is_prefixed_id(s, "usr_"); }},
        {"tokenId", [](std::string_view s) { return is_prefixed_id(s, "tok_"); }},
        {"orgId", [](std::string_view s) { return is_prefixed_id(s, "org_"); }},
        {"teamId", [](std::string_view s) { return is_prefixed_id(s, "team_"); }},
        {"projectId", [](std::string_view s) { return is_prefixed_id(s, "prj_"); }},
        {"buildId", [](std::string_view s) { return is_prefixed_id(s, "b_"); }},
        {"functionId", [](std::string_view s) { return is_prefixed_id(s, "fn_"); }},
        {"databaseId", [](std::string_view s) { return is_prefixed_id(s, "db_"); }},
        {"backupId", [](std::string_view s) { return is_prefixed_id(s, "bak_"); }},
        {"webhookId", [](std::string_view s) { return is_prefixed_id(s, "wh_"); }},
        {"customRoleId", [](std::string_view s) { return is_prefixed_id(s, "role_"); }},
        {"grantId", [](std::string_view s) { return is_prefixed_id(s, "grant_"); }},
        {"invitationId", [](std::string_view s) { return is_prefixed_id(s, "inv_"); }},
        {"role", [](std::string_view s) { return is_one_of(s, builtin_roles) || is_prefixed_id(s, "role_"); }},
        {"subject", [](std::string_view s) {
             return is_prefixed_id(s, "usr_") || is_prefixed_id(s, "tok_") ||
                    (s.substr(0, 5) == "team/" && is_prefixed_id(s.substr(5), "team_"));
         }},
        // Any entity of the ownership tree (EVENTS.md): a grant on it covers what lies beneath.
        {"scope", [](std::string_view s) {
             return s.size() <= 260 && is_reference(s, {"org", "team", "project", "build", "function", "database", "backup", "webhook", "domain"});
         }},
        {"resource", [](std::string_view s) { return s.size() <= 260 && is_reference(s, {}); }},
        {"timestamp", [](std::string_view s) {
             int64_t ms;
             return hs_parse_timestamp(s.data(), s.size(), &ms) == HS_OK;
         }},
        {"fingerprint", [](std::string_view s) { return is_hex(s, 64, 64); }},
        {"email", is_email},
        {"permission", is_permission},
        {"eventType", hs::is_event_type},
        {"hostname", [](std::string_view s) { return is_host(s, false); }},
        {"url", is_url},
        {"gitCommit", [](std::string_view s) { return is_hex(s, 7, 64); }},
        {"hexDigest", [](std::string_view s) { return is_hex(s, 16, 128); }},
        {"envKey", [](std::string_view s) {
             return is_word_start_then(s, 256, [](char c) { return hs::is_upper(c) || is_lower(c) || c == '_'; },
                                       [](char c) { return is_alnum(c) || c == '_'; });
         }},
        {"settingName", [](std::string_view s) {
             return is_word_start_then(s, 64, [](char c) { return hs::is_upper(c) || is_lower(c); },
                                       [](char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; });
         }},
        {"person", [](std::string_view s) { return is_prefixed_id(s, "usr_") || is_hex(s, 64, 64); }},
    };
    return checks;
}

// MARK: - Secrets

// Field names that announce a secret, compared in lowercase without _ - and .
const char *const secret_words[] = {"password", "passwd", "secret", "token", "apikey", "privatekey", "accesskey",
                                    "credential", "authorization"};

// Well-known shapes of credentials, wherever they appear.
const char *const secret_prefixes[] = {"-----BEGIN", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-",
                                       "xoxb-", "xoxp-", "xoxa-", "sk_live_", "rk_live_", "AKIA", "ASIA"};

bool names_secret(std::string_view key) {
    char folded[128];
    size_t n = 0;
    for (char c : key) {
        if (c == '_' || c == '-' || c == '.') continue;
        if (n == sizeof folded) break;
        folded[n++] = hs::is_upper(c) ? char(c + 32) : c;
    }
    std::string_view name(folded, n);
    for (const char *word : secret_words)
        if (name.find(word) != std::string_view::npos) return true;
    return false;
}

bool ends_with_fingerprint(std::string_view key) {
    static const std::string_view suffix = "ingerprint";  // fingerprint, Fingerprint
    return key.size() >= 11 && key.substr(key.size() - suffix.size()) == suffix &&
           (key[key.size() - 11] == 'f' || key[key.size() - 11] == 'F');
}

bool looks_like_credential(std::string_view s) {
    if (s.size() < 5) return false;
    switch (s[0]) {  // the first characters of every prefix below
        case '-': case 'g': case 'x': case 's': case 'r': case 'A': break;
        default: return false;
    }
    for (const char *prefix : secret_prefixes) {
        size_t n = std::strlen(prefix);
        if (s.size() > n && s.substr(0, n) == prefix) {
            if (prefix[0] == 'A') {  // AWS access key ids: AKIA/ASIA and 16 upper-case letters or digits
                if (s.size() != 20) continue;
                bool ok = true;
                for (char c : s.substr(4)) ok = ok && (hs::is_upper(c) || is_digit(c));
                if (!ok) continue;
            }
            return true;
        }
    }
    return false;
}

// MARK: - Compiled schemas

enum TypeBit : unsigned {
    T_STRING = 1, T_INTEGER = 2, T_NUMBER = 4, T_BOOLEAN = 8, T_NULL = 16, T_OBJECT = 32, T_ARRAY = 64,
};

struct Node;

struct Property {
    std::string name;
    const Node *node;
    bool required;
    bool secret_name;  // the name announces a secret (see names_secret)
    bool personal;     // "x-personal": true
};

// One compiled (sub)schema. Absent limits are -1.
struct Node {
    unsigned types = 0;          // allowed JSON types; 0 allows any
    std::string definition;      // the common.json definition this is, reported as the rule
    std::string description;     // what a value must be, for messages
    NativeCheck check = nullptr; // the definition's pattern
    int64_t min_length = -1, max_length = -1;
    std::vector<std::string> enum_values;
    bool has_minimum = false, has_maximum = false;
    double minimum = 0, maximum = 0;
    const Node *items = nullptr;
    int64_t min_items = -1, max_items = -1;
    bool unique_items = false;
    std::vector<Property> properties;
    bool closed = false;                  // additionalProperties: false
    const Node *additional = nullptr;     // additionalProperties: a schema
    const Node *property_names = nullptr;
    int64_t min_properties = -1, max_properties = -1;
    bool secret_and_value = false;        // declares both `secret` and `value`
};

struct Schema {
    std::string type;
    int64_t version;
    const Node *data;
    bool personal;  // some field of `data` is personal
};

}  // namespace

struct hs_catalog {
    simdjson::dom::parser parser;
    std::vector<std::unique_ptr<Node>> nodes;
    std::map<std::string, const Node *, std::less<>> definitions;
    std::vector<Schema> schemas;
    // type → the index in `schemas` of each version (version 1 first; -1 where none). The
    // keys view strings in `type_names`, whose elements never move.
    std::deque<std::string> type_names;
    std::unordered_map<std::string_view, std::vector<int>> by_type;
};

namespace {

// MARK: - The compiler

struct CompileError {
    std::string path;
    std::string message;
};

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

struct Compiler {
    hs_catalog &catalog;

    Node *make() {
        catalog.nodes.push_back(std::make_unique<Node>());
        return catalog.nodes.back().get();
    }

    static int64_t count(element value, const std::string &path) {
        int64_t n;
        if (value.get_int64().get(n) || n < 0) throw CompileError{path, "must be a non-negative integer"};
        return n;
    }

    static std::string_view text(element value, const std::string &path) {
        std::string_view s;
        if (value.get_string().get(s)) throw CompileError{path, "must be a string"};
        return s;
    }

    static unsigned type_bit(std::string_view name, const std::string &path) {
        if (name == "string") return T_STRING;
        if (name == "integer") return T_INTEGER;
        if (name == "number") return T_NUMBER;
        if (name == "boolean") return T_BOOLEAN;
        if (name == "null") return T_NULL;
        if (name == "object") return T_OBJECT;
        if (name == "array") return T_ARRAY;
        throw CompileError{path, "unknown type " + quoted(name)};
    }

    const Node *reference(std::string_view ref, const std::string &path) {
        static const std::string_view prefix = "common.json#/$defs/";
        if (ref.substr(0, prefix.size()) != prefix) throw CompileError{path, "only references into common.json#/$defs/ are supported"};
        auto found = catalog.definitions.find(ref.substr(prefix.size()));
        if (found == catalog.definitions.end()) throw CompileError{path, "no definition " + quoted(ref.substr(prefix.size())) + " in common.json"};
        return found->second;
    }

    // Compiles a subschema. `definition` names a common.json definition being compiled,
    // the only place `pattern` is allowed; `allow_personal` marks a property of `data` (where
    // x-personal may appear), `is_data` the `data` object itself.
    const Node *compile(element schema, const std::string &path, std::string_view definition = {},
                        bool allow_personal = false, bool is_data = false) {
        object fields;
        if (schema.get_object().get(fields)) throw CompileError{path, "a schema must be an object"};
        element ref_value;
        if (!fields["$ref"].get(ref_value)) {
            for (auto field : fields)
                if (field.key != "$ref" && field.key != "description" && !(allow_personal && field.key == "x-personal"))
                    throw CompileError{path + "/" + std::string(field.key), "beside $ref only description and x-personal are supported"};
            return reference(text(ref_value, path + "/$ref"), path + "/$ref");
        }
        Node *node = make();
        node->definition = std::string(definition);
        for (auto field : fields) {
            std::string_view key = field.key;
            std::string at = path;
            hs::append_pointer_token(at, key);
            element value = field.value;
            if (key == "description" || key == "title" || key == "examples" || key == "x-counterExamples" ||
                (key == "format" && !definition.empty())) {
                if (key == "description") node->description = std::string(text(value, at));
            } else if (key == "x-personal") {
                if (!allow_personal) throw CompileError{at, "x-personal is supported on properties of data only"};
            } else if (key == "type") {
                if (value.type() == element_type::ARRAY) {
                    size_t i = 0;
                    for (element t : value.get_array().value_unsafe()) node->types |= type_bit(text(t, at + "/" + std::to_string(i++)), at);
                } else {
                    node->types = type_bit(text(value, at), at);
                }
            } else if (key == "enum") {
                array values;
                if (value.get_array().get(values)) throw CompileError{at, "must be an array"};
                for (element v : values) node->enum_values.emplace_back(text(v, at + " (only string enums are supported)"));
            } else if (key == "minLength") {
                node->min_length = count(value, at);
            } else if (key == "maxLength") {
                node->max_length = count(value, at);
            } else if (key == "minimum" || key == "maximum") {
                double bound;
                if (value.get_double().get(bound)) throw CompileError{at, "must be a number"};
                (key == "minimum" ? node->has_minimum : node->has_maximum) = true;
                (key == "minimum" ? node->minimum : node->maximum) = bound;
            } else if (key == "items") {
                node->items = compile(value, at);
            } else if (key == "minItems") {
                node->min_items = count(value, at);
            } else if (key == "maxItems") {
                node->max_items = count(value, at);
            } else if (key == "uniqueItems") {
                bool unique;
                if (value.get_bool().get(unique)) throw CompileError{at, "must be a boolean"};
                node->unique_items = unique;
            } else if (key == "properties") {
                object properties;
                if (value.get_object().get(properties)) throw CompileError{at, "must be an object"};
                for (auto property : properties) {
                    std::string property_at = at;
                    hs::append_pointer_token(property_at, property.key);
                    const Node *child = compile(property.value, property_at, {}, is_data);
                    bool personal = false;
                    if (is_data && !property.value["x-personal"].get_bool().get(personal) && personal && child->types != T_STRING)
                        throw CompileError{property_at, "only string fields can be personal"};
                    node->properties.push_back({std::string(property.key), child, false, names_secret(property.key), personal});
                }
            } else if (key == "required") {
                // Applied after the loop: properties may come later in the object.
            } else if (key == "additionalProperties") {
                bool allowed;
                if (!value.get_bool().get(allowed)) {
                    if (allowed) throw CompileError{at, "additionalProperties: true is the default; leave it out"};
                    node->closed = true;
                } else {
                    node->additional = compile(value, at);
                }
            } else if (key == "propertyNames") {
                node->property_names = compile(value, at);
            } else if (key == "minProperties") {
                node->min_properties = count(value, at);
            } else if (key == "maxProperties") {
                node->max_properties = count(value, at);
            } else if (key == "pattern") {
                if (definition.empty()) throw CompileError{at, "pattern is supported only in common.json definitions, each with a native check"};
                auto check = native_checks().find(definition);
                if (check == native_checks().end()) throw CompileError{at, "the engine has no native check for definition " + quoted(definition)};
                node->check = check->second;
            } else {
                throw CompileError{at, "keyword " + quoted(key) + " is not supported by the engine's schema compiler"};
            }
        }
        element required;
        if (!fields["required"].get(required)) {
            std::string at = path + "/required";
            array names;
            if (required.get_array().get(names)) throw CompileError{at, "must be an array"};
            for (element name : names) {
                std::string_view s = text(name, at);
                bool found = false;
                for (auto &p : node->properties)
                    if (p.name == s) found = p.required = true;
                if (!found) throw CompileError{at, "required property " + quoted(s) + " is not in properties"};
            }
        }
        if (node->types == 0) throw CompileError{path, "every schema needs a type (or a $ref)"};
        if (node->additional && node->max_properties < 0)
            throw CompileError{path, "a map (additionalProperties with a schema) needs maxProperties"};
        if (node->properties.size() > 64) throw CompileError{path, "at most 64 properties per object"};
        bool has_secret = false, has_value = false;
        for (auto &p : node->properties) {
            has_secret = has_secret || p.name == "secret";
            has_value = has_value || p.name == "value";
        }
        node->secret_and_value = has_secret && has_value;
        if (node->unique_items && !(node->items && node->items->types == T_STRING))
            throw CompileError{path, "uniqueItems is supported for arrays of strings only"};
        return node;
    }

    void add_common(element root) {
        object defs;
        if (root["$defs"].get_object().get(defs)) throw CompileError{"/$defs", "common.json must have $defs"};
        for (auto def : defs) {
            std::string at = "/$defs";
            hs::append_pointer_token(at, def.key);
            catalog.definitions[std::string(def.key)] = compile(def.value, at, def.key);
        }
        for (auto &[name, check] : native_checks())
            if (!catalog.definitions.count(name)) throw CompileError{"/$defs/" + name, "the engine checks a definition common.json does not have"};
    }

    // An event schema: {"$ref": "envelope.json", "properties": {"type": {"const": T},
    // "schemaVersion": {"const": N}, "data": {…}}, …}.
    Schema add_schema(element root) {
        object fields;
        if (root.get_object().get(fields)) throw CompileError{"", "a schema must be an object"};
        Schema schema{"", 0, nullptr, false};
        std::string_view ref;
        if (fields["$ref"].get_string().get(ref) || ref != "envelope.json") throw CompileError{"/$ref", "an event schema must refer to envelope.json"};
        for (auto field : fields) {
            std::string_view key = field.key;
            if (key == "$schema" || key == "$id" || key == "$ref" || key == "title" || key == "description" || key == "x-upcast") continue;
            if (key == "required") continue;  // schemaVersion for versions after 1; the envelope's own rules do the rest
            if (key != "properties") throw CompileError{"/" + std::string(key), "keyword " + quoted(key) + " is not supported at the top of an event schema"};
        }
        object properties;
        if (fields["properties"].get_object().get(properties)) throw CompileError{"/properties", "must be an object"};
        for (auto property : properties) {
            std::string at = "/properties/" + std::string(property.key);
            if (property.key == "type") {
                std::string_view type;
                if (property.value["const"].get_string().get(type) || !hs::is_event_type(type))
                    throw CompileError{at, "must be {\"const\": an event type}"};
                schema.type = std::string(type);
            } else if (property.key == "schemaVersion") {
                if (property.value["const"].get_int64().get(schema.version) || schema.version < 1)
                    throw CompileError{at, "must be {\"const\": a positive integer}"};
            } else if (property.key == "data") {
                schema.data = compile(property.value, at, {}, false, true);
            } else {
                throw CompileError{at, "an event schema describes type, schemaVersion and data only"};
            }
        }
        if (schema.type.empty()) throw CompileError{"/properties/type", "missing"};
        if (schema.version == 0) throw CompileError{"/properties/schemaVersion", "missing"};
        if (!schema.data || schema.data->types != T_OBJECT || !schema.data->closed)
            throw CompileError{"/properties/data", "data must be {\"type\": \"object\", \"additionalProperties\": false, …}"};
        for (auto &p : schema.data->properties) schema.personal = schema.personal || p.personal;
        return schema;
    }
};

// MARK: - Validation

// The path to the value being checked, rendered as a JSON Pointer only when something fails.
struct PathStack {
    struct Token {
        std::string_view key;
        size_t index;
    };
    std::vector<Token> tokens;

    std::string render() const {
        std::string path = "/data";
        for (auto &t : tokens) {
            if (t.key.data()) hs::append_pointer_token(path, t.key);
            else path += "/" + std::to_string(t.index);
        }
        return path;
    }
};

// Looks through `data` for secrets (EVENTS.md, "Secrets never enter the log"): a string
// under a field whose name announces a secret, unless it is a fingerprint under a
// fingerprint field or a token id under `token`; a `value` beside `"secret": true`; and any
// string shaped like a well-known credential. Messages name the field, never the value.
// The validator runs the same checks as it goes (for valid events, one walk does both);
// the scanner searches all of `data` when an event breaks its schema, so that a secret is
// reported as such wherever it sits.
struct SecretScanner {
    PathStack &path;
    hs_error *err;

    bool refuse(const char *why) {
        set_error(err, HS_ERR_SECRET, path.render(), "%s", why);
        set_rule(err, "secret");
        return false;
    }

    bool scan(element v, bool under_secret_name, std::string_view key) {
        switch (v.type()) {
            case element_type::STRING: {
                std::string_view s = v.get_string().value_unsafe();
                if (under_secret_name) {
                    bool fingerprint = ends_with_fingerprint(key) && is_hex(s, 64, 64);
                    bool token_id = key == "token" && is_prefixed_id(s, "tok_");
                    if (!fingerprint && !token_id)
                        return refuse("holds a raw secret; send its fingerprint (the lowercase hex SHA-256) instead, never the value");
                }
                if (looks_like_credential(s)) return refuse("holds what looks like a credential; secrets never enter the log");
                return true;
            }
            case element_type::ARRAY: {
                size_t index = 0;
                for (element item : v.get_array().value_unsafe()) {
                    path.tokens.push_back({{}, index++});
                    if (!scan(item, under_secret_name, key)) return false;
                    path.tokens.pop_back();
                }
                return true;
            }
            case element_type::OBJECT: {
                object obj = v.get_object().value_unsafe();
                bool secret_flag = false;
                if (!obj["secret"].get_bool().get(secret_flag) && secret_flag) {
                    element value;
                    if (!obj["value"].get(value)) {
                        path.tokens.push_back({"value", 0});
                        return refuse("must be absent when \"secret\" is true: send only the value's fingerprint");
                    }
                }
                for (auto field : obj) {
                    path.tokens.push_back({field.key, 0});
                    if (!scan(field.value, under_secret_name || names_secret(field.key), field.key)) return false;
                    path.tokens.pop_back();
                }
                return true;
            }
            default: return true;
        }
    }
};

struct Validator {
    PathStack &path;
    hs_error *err;

    // Reports a failure of `rule` at the current path. A definition's pattern is reported
    // under the definition's name ("projectId"); messages about a definition's value say
    // what the definition is.
    bool fail(const Node *node, const char *rule, const std::string &message) {
        std::string text = message;
        if (node && !node->definition.empty()) {
            std::string what = node->description.empty() ? node->definition : node->description;
            if (!what.empty() && hs::is_upper(what[0])) what[0] = char(what[0] + 32);
            if (!what.empty() && what.back() == '.') what.pop_back();
            text = message.empty() ? "must be " + what : message + " (" + what + ")";
        }
        set_error(err, HS_ERR_SCHEMA, path.render(), "%s", text.c_str());
        set_rule(err, node && !node->definition.empty() && std::strcmp(rule, "pattern") == 0 ? node->definition.c_str() : rule);
        return false;
    }

    static unsigned type_of(element v) {
        switch (v.type()) {
            case element_type::STRING: return T_STRING;
            case element_type::INT64:
            case element_type::UINT64: return T_INTEGER | T_NUMBER;
            case element_type::DOUBLE: return T_NUMBER;
            case element_type::BOOL: return T_BOOLEAN;
            case element_type::NULL_VALUE: return T_NULL;
            case element_type::OBJECT: return T_OBJECT;
            case element_type::ARRAY: return T_ARRAY;
        }
        return 0;
    }

    static std::string type_names(unsigned types) {
        static const char *names[] = {"a string", "an integer", "a number", "a boolean", "null", "an object", "an array"};
        std::string out;
        for (int i = 0; i < 7; i++) {
            if (!(types & (1u << i))) continue;
            if (!out.empty()) out += " or ";
            out += names[i];
        }
        return out;
    }

    static size_t code_points(std::string_view s) {
        size_t n = 0;
        for (unsigned char c : s) n += (c & 0xC0) != 0x80;
        return n;
    }

    bool string(const Node *n, std::string_view s) {
        if (looks_like_credential(s)) return SecretScanner{path, err}.refuse("holds what looks like a credential; secrets never enter the log");
        if (n->min_length >= 0 || n->max_length >= 0) {
            size_t length = code_points(s);
            if (n->min_length >= 0 && length < size_t(n->min_length))
                return fail(n, "minLength", n->min_length == 1 ? "must not be empty" : "must have at least " + std::to_string(n->min_length) + " characters");
            if (n->max_length >= 0 && length > size_t(n->max_length))
                return fail(n, "maxLength", "must have at most " + std::to_string(n->max_length) + " characters; it has " + std::to_string(length));
        }
        if (n->check && !n->check(s)) return fail(n, "pattern", "");
        if (!n->enum_values.empty()) {
            for (auto &v : n->enum_values)
                if (v == s) return true;
            std::string allowed;
            for (auto &v : n->enum_values) allowed += (allowed.empty() ? "" : ", ") + v;
            return fail(n, "enum", "must be one of " + allowed);
        }
        return true;
    }

    bool duplicate() {
        set_error(err, HS_ERR_DUPLICATE_KEY, path.render(), "duplicate key in object");
        return false;
    }

    bool number(const Node *n, element v) {
        double d = 0;
        if (v.type() == element_type::INT64) d = double(v.get_int64().value_unsafe());
        else if (v.type() == element_type::UINT64) d = double(v.get_uint64().value_unsafe());
        else d = v.get_double().value_unsafe();
        auto bound = [](double b) {
            char text[32];
            std::snprintf(text, sizeof text, "%.17g", b);
            return std::string(text);
        };
        if (n->has_minimum && d < n->minimum) return fail(n, "minimum", "must be at least " + bound(n->minimum));
        if (n->has_maximum && d > n->maximum) return fail(n, "maximum", "must be at most " + bound(n->maximum));
        return true;
    }

    bool list(const Node *n, array items) {
        size_t count = items.size();
        if (n->min_items >= 0 && count < size_t(n->min_items))
            return fail(n, "minItems", "must have at least " + std::to_string(n->min_items) + " items");
        if (n->max_items >= 0 && count > size_t(n->max_items))
            return fail(n, "maxItems", "must have at most " + std::to_string(n->max_items) + " items; it has " + std::to_string(count));
        if (n->items) {
            size_t index = 0;
            for (element item : items) {
                path.tokens.push_back({{}, index++});
                if (!value(n->items, item)) return false;
                path.tokens.pop_back();
            }
        }
        if (n->unique_items && count > 1) {
            std::unordered_set<std::string_view> seen;
            size_t index = 0;
            for (element item : items) {
                if (!seen.insert(item.get_string().value_unsafe()).second) {
                    path.tokens.push_back({{}, index});
                    return fail(n, "uniqueItems", "repeats an earlier item");
                }
                index++;
            }
        }
        return true;
    }

    bool fields(const Node *n, object obj) {
        size_t count = obj.size();
        if (n->min_properties >= 0 && count < size_t(n->min_properties))
            return fail(n, "minProperties", "must have at least " + std::to_string(n->min_properties) + " fields");
        if (n->max_properties >= 0 && count > size_t(n->max_properties))
            return fail(n, "maxProperties", "must have at most " + std::to_string(n->max_properties) + " fields; it has " + std::to_string(count));
        if (n->secret_and_value) {
            bool secret = false;
            element ignored;
            if (!obj["secret"].get_bool().get(secret) && secret && !obj["value"].get(ignored)) {
                path.tokens.push_back({"value", 0});
                return SecretScanner{path, err}.refuse("must be absent when \"secret\" is true: send only the value's fingerprint");
            }
        }
        // Duplicate keys are caught here (the envelope parser leaves `data` to this walk):
        // a declared field seen twice, or an undeclared key of a map repeated.
        uint64_t seen = 0, seen_before = 0;
        // Keys of a map (an object with additionalProperties), kept only for maps.
        std::vector<std::string_view> extra;
        size_t next = 0;  // producers mostly send fields in the schema's order: try that one first
        const size_t count_declared = n->properties.size();
        for (auto field : obj) {
            path.tokens.push_back({field.key, 0});
            const Node *child = nullptr;
            bool secret_name = false;
            for (size_t tried = 0; tried < count_declared; tried++) {
                size_t i = (next + tried) % count_declared;
                if (n->properties[i].name == field.key) {
                    child = n->properties[i].node;
                    secret_name = n->properties[i].secret_name;
                    seen_before = seen;
                    seen |= uint64_t(1) << i;
                    next = i + 1;
                    break;
                }
            }
            if (child && (seen_before & (uint64_t(1) << (next - 1)))) return duplicate();
            if (!child) {
                if (n->closed) return fail(nullptr, "additionalProperties", "is not a field of this object");
                for (auto key : extra)
                    if (key == field.key) return duplicate();
                extra.push_back(field.key);
                if (n->property_names && !string(n->property_names, field.key)) return false;
                child = n->additional;
                secret_name = names_secret(field.key);
            }
            if (secret_name && !SecretScanner{path, err}.scan(field.value, true, field.key)) return false;
            if (child && !value(child, field.value)) return false;
            path.tokens.pop_back();
        }
        for (size_t i = 0; i < n->properties.size(); i++)
            if (n->properties[i].required && !(seen & (uint64_t(1) << i))) {
                path.tokens.push_back({n->properties[i].name, 0});
                return fail(nullptr, "required", "required field is missing");
            }
        return true;
    }

    bool value(const Node *n, element v) {
        unsigned type = type_of(v);
        if (n->types && !(n->types & type)) return fail(n, "type", "must be " + type_names(n->types));
        switch (v.type()) {
            case element_type::STRING: return string(n, v.get_string().value_unsafe());
            case element_type::INT64:
            case element_type::UINT64:
            case element_type::DOUBLE: return number(n, v);
            case element_type::ARRAY: return list(n, v.get_array().value_unsafe());
            case element_type::OBJECT: return fields(n, v.get_object().value_unsafe());
            default: return true;
        }
    }
};

}  // namespace

namespace hs {

int validate_data(const hs_catalog *catalog, std::string_view type, int64_t version, element data, int *schema_index,
                  bool *personal, hs_error *err) {
    auto found = catalog->by_type.find(type);
    if (found == catalog->by_type.end()) {
        set_error(err, HS_ERR_UNKNOWN_TYPE, "/type", "is not a type in the event catalogue (EventSchemas/)");
        set_rule(err, "unknownType");
        return err->kind;
    }
    const std::vector<int> &versions = found->second;
    if (version < 1 || version > int64_t(versions.size()) || versions[size_t(version - 1)] < 0) {
        set_error(err, HS_ERR_UNKNOWN_TYPE, "/schemaVersion", "this type has no schema of version %s", std::to_string(version).c_str());
        set_rule(err, "unknownVersion");
        return err->kind;
    }
    int index = versions[size_t(version - 1)];
    const Schema &schema = catalog->schemas[size_t(index)];
    // One path per thread, reused: no allocation per event.
    thread_local PathStack path;
    path.tokens.clear();
    Validator validator{path, err};
    if (!validator.value(schema.data, data)) {
        if (err->kind == HS_ERR_SCHEMA) {
            // A secret elsewhere in the event is the more important thing to report.
            hs_error secret{};
            path.tokens.clear();
            if (!SecretScanner{path, &secret}.scan(data, false, {})) {
                std::memcpy(err->path, secret.path, sizeof secret.path);
                std::memcpy(err->message, secret.message, sizeof secret.message);
                std::memcpy(err->rule, secret.rule, sizeof secret.rule);
                err->kind = secret.kind;
            }
        }
        return err->kind;
    }
    *schema_index = index;
    *personal = schema.personal;
    return HS_OK;
}

}  // namespace hs

extern "C" {

hs_catalog *hs_catalog_create(void) {
    try {
        return new hs_catalog();
    } catch (...) {
        return nullptr;
    }
}

void hs_catalog_destroy(hs_catalog *catalog) { delete catalog; }

static int compile(hs_catalog *catalog, const char *json, size_t len, hs_error *err, int (*step)(hs_catalog *, element)) {
    err->type[0] = 0;
    try {
        element root;
        if (auto error = catalog->parser.parse(json, len).get(root)) {
            set_error(err, HS_ERR_SYNTAX, "", "not valid JSON: %s", simdjson::error_message(error));
            return -1;
        }
        return step(catalog, root);
    } catch (const CompileError &e) {
        set_error(err, HS_ERR_SCHEMA, e.path, "%s", e.message.c_str());
        return -1;
    } catch (const std::exception &e) {
        set_error(err, HS_ERR_SCHEMA, "", "%s", e.what());
        return -1;
    }
}

int hs_catalog_add_common(hs_catalog *catalog, const char *json, size_t len, hs_error *err) {
    return compile(catalog, json, len, err, [](hs_catalog *c, element root) {
        Compiler{*c}.add_common(root);
        return 0;
    });
}

int hs_catalog_add_schema(hs_catalog *catalog, const char *json, size_t len, hs_error *err) {
    return compile(catalog, json, len, err, [](hs_catalog *c, element root) {
        if (c->definitions.empty()) throw CompileError{"", "common.json must be added first"};
        Schema schema = Compiler{*c}.add_schema(root);
        auto found = c->by_type.find(schema.type);
        if (found == c->by_type.end()) {
            c->type_names.push_back(schema.type);
            found = c->by_type.emplace(c->type_names.back(), std::vector<int>()).first;
        }
        std::vector<int> &versions = found->second;
        if (versions.size() < size_t(schema.version)) versions.resize(size_t(schema.version), -1);
        if (versions[size_t(schema.version - 1)] >= 0)
            throw CompileError{"/properties/schemaVersion", "a second schema for " + schema.type + " version " + std::to_string(schema.version)};
        versions[size_t(schema.version - 1)] = int(c->schemas.size());
        c->schemas.push_back(schema);
        return int(c->schemas.size() - 1);
    });
}

int hs_catalog_check_definition(const hs_catalog *catalog, const char *name, const char *value, size_t len) {
    auto found = catalog->definitions.find(std::string_view(name));
    if (found == catalog->definitions.end()) return -1;
    // A string with simdjson's padding after it, as a parsed document would have.
    std::string json = "\"";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = static_cast<unsigned char>(value[i]);
        if (c < 0x20) {
            char escape[8];
            std::snprintf(escape, sizeof escape, "\\u%04x", c);
            json += escape;
            continue;
        }
        if (c == '"' || c == '\\') json.push_back('\\');
        json.push_back(char(c));
    }
    json.push_back('"');
    simdjson::dom::parser parser;
    element v;
    if (parser.parse(json).get(v)) return 0;
    hs_error err{};
    PathStack path;
    Validator validator{path, &err};
    return validator.value(found->second, v) ? 1 : 0;
}

}  // extern "C"
