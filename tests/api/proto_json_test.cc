// api/proto_json.h writes the view replies' JSON itself; these tests hold it
// to protobuf's own printer (MessageToJsonString, proto field names, default
// values printed) byte for byte, over every message type the views and events
// declare, filled at random, and over hand-made corner cases (escaping, oneof
// primitives, unknown enum values, bytes, maps with several entries).
#include "api/proto_json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/target.h"
#include "events/event_store.h"
#include "wharf/views/v1/views.pb.h"

namespace wharf::api {
namespace {

namespace pb = google::protobuf;

std::string protobuf_json(const pb::Message& m) {
  pb::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  EXPECT_TRUE(pb::util::MessageToJsonString(m, &out, options).ok());
  return out;
}

std::string fast_json(const pb::Message& m) {
  std::string out;
  EXPECT_TRUE(append_view_json_fast(m, out)) << m.GetTypeName() << " fell back";
  return out;
}

// Whether a message type holds a float or double anywhere inside it: the fast
// writer does not reproduce protobuf's float formatting and must refuse those.
bool has_float(const pb::Descriptor* d, std::set<const pb::Descriptor*>& seen) {
  if (!seen.insert(d).second) return false;
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_DOUBLE ||
        f->cpp_type() == pb::FieldDescriptor::CPPTYPE_FLOAT) {
      return true;
    }
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE &&
        has_float(f->message_type(), seen)) {
      return true;
    }
  }
  return false;
}

// The JSON the API sends. The fast writer may refuse only a message whose
// type holds a float or double (it does not reproduce protobuf's float
// formatting); then protobuf's printer answers. Either way the bytes are
// compared with protobuf's by the caller.
std::string view_json(const pb::Message& m) {
  std::string out;
  if (append_view_json_fast(m, out)) return out;
  std::set<const pb::Descriptor*> seen;
  EXPECT_TRUE(has_float(m.GetDescriptor(), seen)) << m.GetTypeName() << " fell back";
  out.clear();
  EXPECT_TRUE(append_view_json(m, out));
  return out;
}

// Strings that exercise every escaping rule protobuf applies.
const std::vector<std::string>& samples() {
  static const std::vector<std::string> s = {
      "",
      "plain ascii",
      "sha256:0123456789abcdef",
      "quote \" backslash \\ slash /",
      "<script>alert('x') & co</script>",
      std::string("controls \x01\x02\b\t\n\v\f\r\x1f end"),
      std::string("nul \0 inside", 12),
      "del \x7f",
      "latin \xc3\xa9\xc3\xa0\xc3\xbc",        // é à ü
      "c1 \xc2\x80\xc2\x9f",                   // U+0080, U+009F
      "soft\xc2\xadhyphen",                    // U+00AD
      "line\xe2\x80\xa8sep para\xe2\x80\xa9",  // U+2028, U+2029
      "zwsp\xe2\x80\x8b bom\xef\xbb\xbf",      // U+200B, U+FEFF
      "arabic \xd8\x80 \xdb\x9d",              // U+0600, U+06DD
      "emoji \xf0\x9f\x98\x80",                // U+1F600
      "tag \xf3\xa0\x80\x81",                  // U+E0001 (escaped as a surrogate pair)
      "music \xf0\x9d\x85\xb3",                // U+1D173
      "cjk \xe4\xb8\xad\xe6\x96\x87",
  };
  return s;
}

// Fills every field of `m` from `rng`: strings from samples(), integers of
// every size and sign, enums (now and then a number the enum does not name),
// nested messages down to `depth`, 0-2 repeated elements, at most one map
// entry (protobuf prints maps in hash order; several entries are tested apart).
void fill(pb::Message& m, std::mt19937_64& rng, int depth) {
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (pick(4) == 0) continue;  // leave some fields at their defaults
    const int count = f->is_map()        ? static_cast<int>(pick(2))
                      : f->is_repeated() ? static_cast<int>(pick(3))
                                         : 1;
    for (int k = 0; k < count; ++k) {
      const bool rep = f->is_repeated();
      switch (f->cpp_type()) {
        case pb::FieldDescriptor::CPPTYPE_INT32: {
          const auto v = static_cast<int32_t>(rng());
          rep ? r->AddInt32(&m, f, v) : r->SetInt32(&m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_UINT32: {
          const auto v = static_cast<uint32_t>(rng());
          rep ? r->AddUInt32(&m, f, v) : r->SetUInt32(&m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_INT64: {
          const auto v = static_cast<int64_t>(rng()) >> pick(60);
          rep ? r->AddInt64(&m, f, v) : r->SetInt64(&m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_UINT64: {
          const auto v = rng() >> pick(60);
          rep ? r->AddUInt64(&m, f, v) : r->SetUInt64(&m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_BOOL: {
          const bool v = pick(2) == 0;
          rep ? r->AddBool(&m, f, v) : r->SetBool(&m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_ENUM: {
          const auto* e = f->enum_type();
          const int v =
              pick(8) == 0 ? 1000 + static_cast<int>(pick(100))
                           : e->value(static_cast<int>(pick(static_cast<size_t>(e->value_count()))))
                                 ->number();
          rep ? r->AddEnumValue(&m, f, v) : r->SetEnumValue(&m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_STRING: {
          std::string v = samples()[pick(samples().size())];
          if (f->type() == pb::FieldDescriptor::TYPE_BYTES) {
            v.clear();
            for (size_t b = pick(40); b > 0; --b) v.push_back(static_cast<char>(rng()));
          }
          rep ? r->AddString(&m, f, v) : r->SetString(&m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_MESSAGE: {
          if (depth <= 0 && !f->is_map()) break;
          auto* sub = rep ? r->AddMessage(&m, f) : r->MutableMessage(&m, f);
          if (pick(5) != 0) fill(*sub, rng, depth - 1);
          break;
        }
        default:
          break;
      }
    }
  }
}

// Every message type of the views and of the events (and what they import).
std::vector<const pb::Descriptor*> all_types() {
  std::vector<const pb::Descriptor*> out;
  std::set<const pb::FileDescriptor*> seen;
  std::vector<const pb::FileDescriptor*> todo = {views::v1::VersionList::descriptor()->file(),
                                                 events::Envelope::descriptor()->file()};
  std::function<void(const pb::Descriptor*)> add = [&](const pb::Descriptor* d) {
    if (d->options().map_entry()) return;
    out.push_back(d);
    for (int i = 0; i < d->nested_type_count(); ++i) add(d->nested_type(i));
  };
  while (!todo.empty()) {
    const auto* file = todo.back();
    todo.pop_back();
    if (!seen.insert(file).second) continue;
    for (int i = 0; i < file->message_type_count(); ++i) add(file->message_type(i));
    for (int i = 0; i < file->dependency_count(); ++i) todo.push_back(file->dependency(i));
  }
  return out;
}

TEST(ProtoJson, EveryViewAndEventTypeEmptyMatchesProtobuf) {
  pb::DynamicMessageFactory factory;
  const auto types = all_types();
  ASSERT_GT(types.size(), 30u);
  for (const auto* d : types) {
    std::unique_ptr<pb::Message> m(factory.GetPrototype(d)->New());
    EXPECT_EQ(view_json(*m), protobuf_json(*m)) << d->full_name();
  }
}

TEST(ProtoJson, EveryViewAndEventTypeFilledAtRandomMatchesProtobuf) {
  pb::DynamicMessageFactory factory;
  std::mt19937_64 rng(20261126);
  for (const auto* d : all_types()) {
    for (int round = 0; round < 25; ++round) {
      std::unique_ptr<pb::Message> m(factory.GetPrototype(d)->New());
      fill(*m, rng, 3);
      // Credentials (settings values, webhook secret hashes) print masked
      // on both paths (docs/targets.md#the-past): protobuf's mapping of the
      // masked message.
      std::unique_ptr<pb::Message> masked(m->New());
      masked->CopyFrom(*m);
      engine::mask_credentials(*masked);
      const std::string expected = protobuf_json(*masked);
      EXPECT_EQ(view_json(*m), expected) << d->full_name() << " round " << round;
      std::string with_fallback;
      ASSERT_TRUE(append_view_json(*m, with_fallback));
      EXPECT_EQ(with_fallback, expected);
    }
  }
}

TEST(ProtoJson, GeneratedViewsMatchProtobuf) {
  views::v1::VersionList list;
  list.set_position(18446744073709551615ull);
  list.set_next_before(7);
  auto* v = list.add_versions();
  v->set_project_id("proj<1>");
  v->set_version("sha256:abc");
  v->set_change_number(42);
  v->set_recorded_at_us(-5);
  v->mutable_author()->set_username("jos\xc3\xa9");
  v->add_deployments();
  list.add_versions();
  EXPECT_EQ(fast_json(list), protobuf_json(list));

  views::v1::EnvironmentList envs;
  auto* e = envs.add_environments();
  e->set_environment("prod");
  e->mutable_current()->set_deploy_id("d1");
  e->add_queue()->set_deploy_id("d2");
  EXPECT_EQ(fast_json(envs), protobuf_json(envs));
}

// Maps: protobuf prints entries in hash order, this writer sorted by key.
// Same JSON object either way.
TEST(ProtoJson, MapsWithSeveralEntriesAreTheSameObject) {
  pb::DynamicMessageFactory factory;
  std::mt19937_64 rng(7);
  int maps_seen = 0;
  for (const auto* d : all_types()) {
    for (int i = 0; i < d->field_count(); ++i) {
      const auto* f = d->field(i);
      if (!f->is_map()) continue;
      std::unique_ptr<pb::Message> m(factory.GetPrototype(d)->New());
      const auto* r = m->GetReflection();
      for (int k = 0; k < 6; ++k) {
        auto* entry = r->AddMessage(m.get(), f);
        fill(*entry, rng, 1);
        entry->GetReflection()->SetString(entry, f->message_type()->map_key(),
                                          "key" + std::to_string(5 - k) + samples()[k]);
      }
      ++maps_seen;
      const std::string ours = fast_json(*m);
      EXPECT_EQ(boost::json::parse(ours), boost::json::parse(protobuf_json(*m))) << d->full_name();
      EXPECT_LT(ours.find("\"key0"), ours.find("\"key5")) << "entries sorted by key";
    }
  }
  EXPECT_GT(maps_seen, 0);
}

// A proto3 file made at run time for what wharf's protos do not use (yet):
// primitive oneof members, proto3 optional, integer map keys, repeated
// enums, sint/fixed, and a double (which takes protobuf's own printer).
class ProtoJsonDynamic : public ::testing::Test {
 protected:
  void SetUp() override {
    pb::FileDescriptorProto file;
    file.set_name("proto_json_test.proto");
    file.set_package("wharf.test");
    file.set_syntax("proto3");
    auto* en = file.add_enum_type();
    en->set_name("Color");
    en->add_value()->set_name("COLOR_UNSPECIFIED");
    en->add_value()->set_name("COLOR_RED");
    en->mutable_value(1)->set_number(1);
    auto* entry = file.add_message_type();
    entry->set_name("Thing");
    auto field = [&](const char* name, int number, pb::FieldDescriptorProto::Type type,
                     pb::FieldDescriptorProto::Label label =
                         pb::FieldDescriptorProto::LABEL_OPTIONAL) {
      auto* f = entry->add_field();
      f->set_name(name);
      f->set_number(number);
      f->set_type(type);
      f->set_label(label);
      return f;
    };
    field("b", 2, pb::FieldDescriptorProto::TYPE_STRING);
    auto* a = field("a", 1, pb::FieldDescriptorProto::TYPE_INT64);  // declared after b
    (void)a;
    entry->add_oneof_decl()->set_name("choice");
    field("choice_int", 5, pb::FieldDescriptorProto::TYPE_INT32)->set_oneof_index(0);
    field("choice_str", 4, pb::FieldDescriptorProto::TYPE_STRING)->set_oneof_index(0);
    field("colors", 6, pb::FieldDescriptorProto::TYPE_ENUM,
          pb::FieldDescriptorProto::LABEL_REPEATED)
        ->set_type_name(".wharf.test.Color");
    field("blob", 7, pb::FieldDescriptorProto::TYPE_BYTES);
    field("sint", 9, pb::FieldDescriptorProto::TYPE_SINT64);
    field("fixed", 10, pb::FieldDescriptorProto::TYPE_FIXED32);
    auto* map_entry = entry->add_nested_type();
    map_entry->set_name("ByIdEntry");
    map_entry->mutable_options()->set_map_entry(true);
    auto* k = map_entry->add_field();
    k->set_name("key");
    k->set_number(1);
    k->set_type(pb::FieldDescriptorProto::TYPE_INT32);
    k->set_label(pb::FieldDescriptorProto::LABEL_OPTIONAL);
    auto* val = map_entry->add_field();
    val->set_name("value");
    val->set_number(2);
    val->set_type(pb::FieldDescriptorProto::TYPE_STRING);
    val->set_label(pb::FieldDescriptorProto::LABEL_OPTIONAL);
    field("by_id", 11, pb::FieldDescriptorProto::TYPE_MESSAGE,
          pb::FieldDescriptorProto::LABEL_REPEATED)
        ->set_type_name(".wharf.test.Thing.ByIdEntry");
    // proto3 `optional`: a synthetic oneof.
    entry->add_oneof_decl()->set_name("_maybe");
    auto* maybe = field("maybe", 12, pb::FieldDescriptorProto::TYPE_UINT32);
    maybe->set_oneof_index(1);
    maybe->set_proto3_optional(true);
    auto* measured = file.add_message_type();
    measured->set_name("Measured");
    auto* ratio = measured->add_field();
    ratio->set_name("ratio");
    ratio->set_number(1);
    ratio->set_type(pb::FieldDescriptorProto::TYPE_DOUBLE);
    ratio->set_label(pb::FieldDescriptorProto::LABEL_OPTIONAL);
    ASSERT_NE(pool_.BuildFile(file), nullptr);
    type_ = pool_.FindMessageTypeByName("wharf.test.Thing");
    ASSERT_NE(type_, nullptr);
  }
  std::unique_ptr<pb::Message> make(const char* name = "wharf.test.Thing") {
    return std::unique_ptr<pb::Message>(
        factory_.GetPrototype(pool_.FindMessageTypeByName(name))->New());
  }
  pb::DescriptorPool pool_;
  pb::DynamicMessageFactory factory_{&pool_};
  const pb::Descriptor* type_ = nullptr;
};

TEST_F(ProtoJsonDynamic, OneofPrimitivesOptionalEnumsBytesIntegerKeys) {
  const auto* d = type_;
  auto m = make();
  const auto* r = m->GetReflection();
  EXPECT_EQ(fast_json(*m), protobuf_json(*m)) << "all defaults";

  r->SetString(m.get(), d->FindFieldByName("choice_str"), "picked <one>");
  r->SetInt64(m.get(), d->FindFieldByName("a"), -9);
  r->SetInt64(m.get(), d->FindFieldByName("sint"), -12345678901234);
  r->SetUInt32(m.get(), d->FindFieldByName("fixed"), 4000000000u);
  r->AddEnumValue(m.get(), d->FindFieldByName("colors"), 1);
  r->AddEnumValue(m.get(), d->FindFieldByName("colors"), 77);
  for (const char* blob : {"", "a", "ab", "abc", "\xff\x00\x10 binary"}) {
    r->SetString(m.get(), d->FindFieldByName("blob"), blob);
    EXPECT_EQ(fast_json(*m), protobuf_json(*m)) << "blob " << blob;
  }
  r->SetUInt32(m.get(), d->FindFieldByName("maybe"), 0);
  EXPECT_EQ(fast_json(*m), protobuf_json(*m)) << "optional set to zero";
  auto* e = r->AddMessage(m.get(), d->FindFieldByName("by_id"));
  e->GetReflection()->SetInt32(e, e->GetDescriptor()->FindFieldByName("key"), -3);
  e->GetReflection()->SetString(e, e->GetDescriptor()->FindFieldByName("value"), "minus three");
  EXPECT_EQ(fast_json(*m), protobuf_json(*m)) << "integer map key";
  r->SetInt32(m.get(), d->FindFieldByName("choice_int"), 0);
  EXPECT_EQ(fast_json(*m), protobuf_json(*m)) << "oneof switched to an int set to zero";
}

TEST_F(ProtoJsonDynamic, FloatsAndBadUtf8TakeProtobufsPrinter) {
  auto m = make("wharf.test.Measured");
  const auto* r = m->GetReflection();
  std::string out;
  EXPECT_FALSE(append_view_json_fast(*m, out)) << "a double field: not written here";
  out.clear();
  r->SetDouble(m.get(), m->GetDescriptor()->FindFieldByName("ratio"), 0.1);
  ASSERT_TRUE(append_view_json(*m, out));
  EXPECT_EQ(out, protobuf_json(*m));

  views::v1::VersionView v;
  v.set_subject("bad \xc3 utf8 \xff");
  out = "prefix";
  EXPECT_FALSE(append_view_json_fast(v, out));
  out = "prefix";
  ASSERT_TRUE(append_view_json(v, out));
  EXPECT_EQ(out, "prefix" + protobuf_json(v));
}

}  // namespace
}  // namespace wharf::api
