#include "projections/insights_rollup.h"

#include "projections/keys.h"

namespace wharf::projections::insights::rollup {

namespace views = wharf::views::v1;

namespace {

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool get_varint(std::string_view& in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

// Times and durations may be negative (clock skew between writers).
void put_signed(std::string& out, int64_t v) {
  put_varint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
bool get_signed(std::string_view& in, int64_t* v) {
  uint64_t u = 0;
  if (!get_varint(in, &u)) return false;
  *v = static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
  return true;
}

void put_string(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}
bool get_string(std::string_view& in, std::string_view* s) {
  uint64_t n = 0;
  if (!get_varint(in, &n) || n > in.size()) return false;
  *s = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

constexpr uint64_t kRollback = 1, kHasLead = 2;

}  // namespace

uint64_t day_of(int64_t deployed_at_us) {
  return deployed_at_us <= 0 ? 0 : static_cast<uint64_t>(deployed_at_us / kDayUs);
}

void append_row(std::string& chunk, const views::DeploymentFact& f) {
  put_string(chunk, f.project_id());
  put_string(chunk, f.environment());
  put_varint(chunk, f.position());
  put_signed(chunk, f.deployed_at_us());
  put_varint(chunk, (f.rollback() ? kRollback : 0) | (f.has_lead_time() ? kHasLead : 0));
  if (f.has_lead_time()) put_signed(chunk, f.lead_time_us());
}

bool decode_rows(std::string_view in, std::vector<FactRow>& out) {
  while (!in.empty()) {
    FactRow r;
    uint64_t flags = 0;
    if (!get_string(in, &r.project_id) || !get_string(in, &r.environment) ||
        !get_varint(in, &r.position) || !get_signed(in, &r.deployed_at_us) ||
        !get_varint(in, &flags)) {
      return false;
    }
    r.rollback = (flags & kRollback) != 0;
    r.has_lead_time = (flags & kHasLead) != 0;
    if (r.has_lead_time && !get_signed(in, &r.lead_time_us)) return false;
    out.push_back(r);
  }
  return true;
}

std::string encode_pointer(uint64_t chunk, uint64_t rows) {
  std::string out;
  put_varint(out, chunk);
  put_varint(out, rows);
  return out;
}

bool decode_pointer(std::string_view in, uint64_t* chunk, uint64_t* rows) {
  return get_varint(in, chunk) && get_varint(in, rows);
}

std::string encode_outcome(const views::DeploymentFact& f) {
  std::string out;
  put_varint(out, f.position());
  put_varint(out, f.failure().position());
  put_signed(out, f.failure().at_us());
  put_varint(out, f.restore().position());
  put_signed(out, f.restore().at_us());
  return out;
}

bool decode_outcome(std::string_view in, Outcome* o) {
  return get_varint(in, &o->position) && get_varint(in, &o->failure_position) &&
         get_signed(in, &o->failure_at_us) && get_varint(in, &o->restore_position) &&
         get_signed(in, &o->restore_at_us);
}

std::string encode_counts(const DayCounts& c) {
  std::string out;
  for (uint64_t v : {c.deployments, c.rollbacks, c.failed, c.restores, c.leads}) put_varint(out, v);
  return out;
}

bool decode_counts(std::string_view in, DayCounts* c) {
  return get_varint(in, &c->deployments) && get_varint(in, &c->rollbacks) &&
         get_varint(in, &c->failed) && get_varint(in, &c->restores) && get_varint(in, &c->leads);
}

namespace {
void put_fixed(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_fixed(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
}  // namespace

void append_sample(std::string& chunk, const Sample& s) {
  put_fixed(chunk, static_cast<uint64_t>(s.value_us));
  put_fixed(chunk, s.position);
}

bool decode_samples(std::string_view in, std::vector<Sample>& out) {
  if (in.size() % 16 != 0) return false;
  out.reserve(out.size() + in.size() / 16);
  for (size_t i = 0; i < in.size(); i += 16) {
    out.push_back({static_cast<int64_t>(get_fixed(in.data() + i)), get_fixed(in.data() + i + 8)});
  }
  return true;
}

std::string scope_all() {
  std::string out;
  keys::append_component(out, "*");
  return out;
}
std::string scope_environment(std::string_view env) {
  std::string out;
  keys::append_component(out, "e");
  keys::append_component(out, env);
  return out;
}
std::string scope_group(std::string_view project, std::string_view env) {
  std::string out;
  keys::append_component(out, "g");
  keys::append_component(out, project);
  keys::append_component(out, env);
  return out;
}

std::string group_value(std::string_view project, std::string_view env) {
  std::string out;
  put_string(out, project);
  put_string(out, env);
  return out;
}
bool decode_group(std::string_view in, std::string_view* project, std::string_view* env) {
  return get_string(in, project) && get_string(in, env);
}

}  // namespace wharf::projections::insights::rollup
