// Signed checkpoints, Merkle proofs and signed exports: a genuine export
// verifies with the trusted key; a forged store id, a re-chained file, an
// unsigned file or another key's signature do not.
#include "events/checkpoint.h"

#include <google/protobuf/util/delimited_message_util.h>
#include <gtest/gtest.h>

#include <fstream>

#include "events/export.h"
#include "events/hash_chain.h"
#include "tests/events/test_util.h"

namespace wharf::events {
namespace {

using testing::make_event;
using testing::open_store;
using testing::TempDir;

VerifyExportOptions trusting(const std::string& key) {
  VerifyExportOptions o;
  o.trusted_public_key = key;
  return o;
}

VerifyExportOptions expecting(const std::string& head) {
  VerifyExportOptions o;
  o.expected_head_hash = head;
  return o;
}

std::vector<std::string> leaves_of(uint64_t n) {
  std::vector<std::string> leaves;
  for (uint64_t i = 1; i <= n; ++i)
    leaves.push_back(merkle_leaf(i, sha256("event " + std::to_string(i))));
  return leaves;
}

TEST(Merkle, FrontierRootEqualsTreeRootAndEveryPathLeadsToIt) {
  MerkleFrontier frontier;
  EXPECT_EQ(frontier.root(), merkle_empty_root());
  for (uint64_t n = 1; n <= 21; ++n) {
    auto leaves = leaves_of(n);
    frontier.push(leaves.back());
    const std::string root = merkle_root(leaves);
    ASSERT_EQ(frontier.root(), root) << n << " leaves";
    for (uint64_t i = 0; i < n; ++i) {
      auto path = merkle_path(leaves, i);
      EXPECT_EQ(merkle_root_from_path(leaves[i], i, n, path), root) << "leaf " << i << " of " << n;
      EXPECT_NE(merkle_root_from_path(merkle_leaf(i + 1, sha256("forged")), i, n, path), root);
      if (n > 1) {
        EXPECT_NE(merkle_root_from_path(leaves[i], (i + 1) % n, n, path), root);
      }
    }
  }
  // RFC 6962 shape: 3 leaves = node(node(a, b), c).
  auto three = leaves_of(3);
  EXPECT_EQ(merkle_root(three), merkle_node(merkle_node(three[0], three[1]), three[2]));
}

class Signed : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(tmp_.sub("store"));
    for (int i = 0; i < 11; ++i)
      ASSERT_TRUE(store_->append("s", ExpectedVersion::any(), {make_event()}));
    auto key = SigningKey::generate();
    ASSERT_TRUE(key);
    trusted_ = key->public_key();
    signer_ = std::make_unique<Checkpointer>(std::move(*key));
  }

  std::string export_signed(const std::string& name) {
    auto c = signer_->sign(*store_, 0, "export", 1);
    EXPECT_TRUE(c) << c.error().message;
    ExportOptions options;
    options.checkpoint = *c;
    auto summary = export_events(*store_, tmp_.sub(name), options);
    EXPECT_TRUE(summary) << summary.error().message;
    return tmp_.sub(name);
  }

  // Rewrites an export file with `edit` applied to its header.
  std::string rewrite(const std::string& from, const std::string& name,
                      const std::function<void(wharf::v1::ExportHeader&)>& edit) {
    auto file = read_export(from);
    EXPECT_TRUE(file);
    edit(file->header);
    std::ofstream out(tmp_.sub(name), std::ios::binary);
    google::protobuf::util::SerializeDelimitedToOstream(file->header, &out);
    for (const auto& r : file->records)
      google::protobuf::util::SerializeDelimitedToOstream(r, &out);
    return tmp_.sub(name);
  }

  TempDir tmp_;
  std::unique_ptr<EventStore> store_;
  std::string trusted_;
  std::unique_ptr<Checkpointer> signer_;
};

TEST_F(Signed, GenuineExportVerifiesWithTheTrustedKey) {
  auto path = export_signed("genuine.wharf");
  auto report = verify_export(path, [&] {
    auto o = trusting(trusted_);
    o.expected_head_hash = store_->head_hash();
    return o;
  }());
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_NE(report.message.find("signed checkpoint verifies"), std::string::npos) << report.message;
  EXPECT_TRUE(verify_export(path).ok) << "a signed export still verifies without a key";
}

TEST_F(Signed, ForgedStoreIdFails) {
  auto path = rewrite(export_signed("genuine.wharf"), "forged.wharf",
                      [](wharf::v1::ExportHeader& h) { h.set_store_id("00000000-forged"); });
  EXPECT_TRUE(verify_export(path).ok) << "without a key the forgery is not detectable";
  auto report = verify_export(path, trusting(trusted_));
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.message.find("00000000-forged"), std::string::npos) << report.message;
  // Changing the checkpoint's store id too breaks the signature.
  auto both = rewrite(path, "forged2.wharf", [](wharf::v1::ExportHeader& h) {
    h.mutable_checkpoint()->set_store_id("00000000-forged");
  });
  report = verify_export(both, trusting(trusted_));
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.message.find("signature does not verify"), std::string::npos) << report.message;
}

TEST_F(Signed, RechainedFileFails) {
  // The attacker builds a whole new log and chain and keeps the genuine header's checkpoint.
  auto genuine = read_export(export_signed("genuine.wharf"));
  ASSERT_TRUE(genuine);
  auto other = open_store(tmp_.sub("attacker"));
  for (int i = 0; i < 11; ++i)
    ASSERT_TRUE(other->append("s", ExpectedVersion::any(), {make_event()}));
  ASSERT_TRUE(export_events(*other, tmp_.sub("rechained.wharf")));
  auto path =
      rewrite(tmp_.sub("rechained.wharf"), "rechained2.wharf", [&](wharf::v1::ExportHeader& h) {
        h.set_store_id(genuine->header.store_id());
        *h.mutable_checkpoint() = genuine->header.checkpoint();
      });
  EXPECT_TRUE(verify_export(path).ok) << "the re-chained file is self-consistent";
  auto report = verify_export(path, trusting(trusted_));
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.message.find("not where the chain ends"), std::string::npos) << report.message;
  report = verify_export(path, expecting(store_->head_hash()));
  EXPECT_FALSE(report.ok) << report.message;

  // Signed by the attacker's own key: not the trusted one.
  auto attacker_key = SigningKey::generate();
  ASSERT_TRUE(attacker_key);
  Checkpointer attacker(std::move(*attacker_key));
  auto c = attacker.sign(*other, 0, "export", 1);
  ASSERT_TRUE(c);
  ExportOptions options;
  options.checkpoint = *c;
  ASSERT_TRUE(export_events(*other, tmp_.sub("self-signed.wharf"), options));
  report = verify_export(tmp_.sub("self-signed.wharf"), trusting(trusted_));
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.message.find("not the trusted key"), std::string::npos) << report.message;
}

TEST_F(Signed, UnsignedExportFailsWhenAKeyIsTrusted) {
  ASSERT_TRUE(export_events(*store_, tmp_.sub("plain.wharf")));
  auto report = verify_export(tmp_.sub("plain.wharf"), trusting(trusted_));
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.message.find("no signed checkpoint"), std::string::npos) << report.message;
}

TEST_F(Signed, RecordedCheckpointKeepsTheChainAndProvesOneEvent) {
  auto recorded = signer_->record(*store_, "periodic", 2);
  ASSERT_TRUE(recorded) << recorded.error().message;
  EXPECT_EQ(recorded->head_position(), 11u);
  EXPECT_EQ(store_->head_position(), 12u);
  auto again = signer_->record(*store_, "periodic", 3);
  ASSERT_TRUE(again);
  EXPECT_EQ(store_->head_position(), 12u)
      << "nothing new since its own checkpoint: not recorded twice";
  auto found = latest_checkpoint(*store_, 5);
  ASSERT_TRUE(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->merkle_root(), recorded->merkle_root());

  auto proof = prove(*store_, 5, **found);
  ASSERT_TRUE(proof) << proof.error().message;
  auto report = verify_proof(*proof, trusted_);
  EXPECT_TRUE(report.ok) << report.message;

  MerkleProof altered = *proof;
  Envelope e;
  ASSERT_TRUE(e.ParseFromString(altered.event()));
  e.set_correlation_id("forged");
  e.set_hash(chain_hash(e.prev_hash(), content_digest(e)));  // re-hashed: the path no longer fits
  altered.set_event(serialize_deterministic(e));
  report = verify_proof(altered, trusted_);
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.message.find("Merkle path"), std::string::npos) << report.message;

  auto other_key = SigningKey::generate();
  ASSERT_TRUE(other_key);
  EXPECT_FALSE(verify_proof(*proof, other_key->public_key()).ok);

  store_->close();
  auto verified = verify_store(tmp_.sub("store"));
  EXPECT_TRUE(verified.ok) << verified.message;
}

TEST(SigningKeyFile, SavedKeyLoadsBackAndPublicKeyParsesAsHexOrPem) {
  TempDir tmp;
  auto key = SigningKey::generate();
  ASSERT_TRUE(key);
  ASSERT_TRUE(key->save(tmp.sub("k.pem")));
  EXPECT_FALSE(key->save(tmp.sub("k.pem"))) << "never overwrites a key";
  auto loaded = SigningKey::load(tmp.sub("k.pem"));
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->public_key(), key->public_key());
  auto hex = parse_public_key(to_hex(key->public_key()));
  ASSERT_TRUE(hex) << hex.error();
  EXPECT_EQ(*hex, key->public_key());
  std::ofstream(tmp.sub("pub.pem")) << public_key_pem(key->public_key());
  auto pem = parse_public_key(tmp.sub("pub.pem"));
  ASSERT_TRUE(pem) << pem.error();
  EXPECT_EQ(*pem, key->public_key());
  EXPECT_FALSE(parse_public_key("not-a-key"));
}

}  // namespace
}  // namespace wharf::events
