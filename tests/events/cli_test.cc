// The `wharf` binary end to end: events append/tail/export and audit verify,
// including tampered copies; project create (Gerrit binding, strict --file)
// and gerrit ingest --json. Runs $WHARF_BIN (set by scripts/test) or the
// binary of this build tree.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "events/export.h"
#include "events/keys.h"
#include "tests/events/raw_rocksdb.h"
#include "tests/cli_process.h"
#include "tests/events/test_util.h"

namespace wharf::events {
namespace {

namespace fs = std::filesystem;

using wharf::testing::CliRun;
using wharf::testing::wharf_bin;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class WharfCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(wharf_bin())) << "wharf binary not found at " << wharf_bin()
                                         << " (build target `wharf` or set WHARF_BIN)";
  }

  CliRun wharf(const std::string& args, const std::string& stdin_text = "") {
    return cli_.run(args, stdin_text);
  }

  std::string data() const { return "--data '" + tmp_.sub("store") + "'"; }

  testing::TempDir tmp_;
  wharf::testing::CliRunner cli_{tmp_.path()};
};

TEST_F(WharfCli, AppendTailExportVerify) {
  auto first =
      wharf("events append " + data() +
            " --stream project-p1 --expected none --actor alice"
            " --payload '{\"projectCreated\":{\"projectId\":\"p1\",\"name\":\"Payments\"}}'");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, "1\n");
  auto from_stdin = wharf("events append " + data() + " --stream project-p1 --expected 1",
                          "{\"repositoryBound\":{\"projectId\":\"p1\"}}");
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, "2\n");
  const std::string fixed =
      "events append " + data() +
      " --stream project-p1 --event-id fixed-id --occurred-at-us 1700000000000000"
      " --payload '{\"projectCreated\":{\"projectId\":\"p9\"}}'";
  auto once = wharf(fixed);
  ASSERT_EQ(once.exit_code, 0) << once.err;
  EXPECT_EQ(once.out, "3\n");
  auto retry = wharf(fixed);  // idempotent: the original position, nothing written
  ASSERT_EQ(retry.exit_code, 0) << retry.err;
  EXPECT_EQ(retry.out, "3\n");
  auto changed_actor = wharf(fixed + " --actor mallory");
  EXPECT_EQ(changed_actor.exit_code, 1);
  EXPECT_NE(changed_actor.err.find("event_id_conflict"), std::string::npos) << changed_actor.err;

  auto tail = wharf("events tail " + data());
  ASSERT_EQ(tail.exit_code, 0) << tail.err;
  std::istringstream lines(tail.out);
  std::string line;
  uint64_t expected = 1;
  while (std::getline(lines, line)) {
    Envelope e;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &e).ok()) << line;
    EXPECT_EQ(e.position(), expected++);
  }
  EXPECT_EQ(expected, 4u);
  EXPECT_NE(tail.out.find("\"id\":\"alice\""), std::string::npos);
  EXPECT_NE(tail.out.find("RepositoryBound"), std::string::npos);

  auto exported = wharf("events export " + data() + " --out '" + tmp_.sub("all.wharf") + "'");
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  auto verify_store = wharf("audit verify " + data());
  EXPECT_EQ(verify_store.exit_code, 0) << verify_store.err;
  EXPECT_NE(verify_store.out.find("OK"), std::string::npos);
  auto verify_file = wharf("audit verify --file '" + tmp_.sub("all.wharf") + "'");
  EXPECT_EQ(verify_file.exit_code, 0) << verify_file.err;
}

TEST_F(WharfCli, ClearErrorsForBadInput) {
  auto bad_json =
      wharf("events append " + data() + " --stream s --payload '{\"projectCreatd\":{}}'");
  EXPECT_EQ(bad_json.exit_code, 2);
  EXPECT_NE(bad_json.err.find("bad payload JSON"), std::string::npos) << bad_json.err;
  EXPECT_NE(bad_json.err.find("projectCreatd"), std::string::npos) << bad_json.err;
  auto no_type = wharf("events append " + data() + " --stream s --payload '{}'");
  EXPECT_EQ(no_type.exit_code, 2);
  auto bad_expected = wharf("events append " + data() +
                            " --stream s --expected soon --payload "
                            "'{\"projectCreated\":{}}'");
  EXPECT_EQ(bad_expected.exit_code, 2);
  ASSERT_EQ(wharf("events append " + data() + " --stream s --payload '{\"projectCreated\":{}}'")
                .exit_code,
            0);
  auto conflict = wharf("events append " + data() +
                        " --stream s --expected none --payload "
                        "'{\"projectCreated\":{}}'");
  EXPECT_EQ(conflict.exit_code, 1);
  EXPECT_NE(conflict.err.find("conflict on stream s: expected no stream, actual version 1"),
            std::string::npos)
      << conflict.err;
  auto missing = wharf("events tail --data '" + tmp_.sub("nothing") + "'");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_FALSE(fs::exists(tmp_.sub("nothing")));
}

TEST_F(WharfCli, AuditVerifyNamesTheTamperedPosition) {
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(wharf("events append " + data() +
                    " --stream s --payload "
                    "'{\"projectCreated\":{\"projectId\":\"p" +
                    std::to_string(i) + "\"}}'")
                  .exit_code,
              0);
  }
  ASSERT_EQ(wharf("events export " + data() + " --out '" + tmp_.sub("all.wharf") + "'").exit_code,
            0);

  // The event store lives in DATA/events (cli/commands.h store_dir).
  fs::copy(tmp_.sub("store"), tmp_.sub("copy"), fs::copy_options::recursive);
  {
    testing::RawStore raw(tmp_.sub("copy") + "/events");
    std::string value = raw.get(keys::kLogFamily, keys::log_key(4));
    value[value.size() / 2] = static_cast<char>(value[value.size() / 2] ^ 0x04);
    raw.put(keys::kLogFamily, keys::log_key(4), value);
  }
  auto store = wharf("audit verify --data '" + tmp_.sub("copy") + "'");
  EXPECT_EQ(store.exit_code, 1);
  EXPECT_NE(store.err.find("FAILED at position 4"), std::string::npos) << store.err;

  std::string bytes = slurp(tmp_.sub("all.wharf"));
  size_t at = bytes.find(std::string("\x0a\x02p4", 4));  // ProjectCreated.project_id = "p4"
  ASSERT_NE(at, std::string::npos);
  bytes[at + 3] = '7';  // p4 -> p7 inside the record of position 5
  std::ofstream(tmp_.sub("tampered.wharf"), std::ios::binary) << bytes;
  auto file = wharf("audit verify --file '" + tmp_.sub("tampered.wharf") + "'");
  EXPECT_EQ(file.exit_code, 1);
  EXPECT_NE(file.err.find("FAILED at position 5"), std::string::npos) << file.err;
}

TEST_F(WharfCli, AuditVerifySaysTheHeadersHeadHashFailed) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(wharf("events append " + data() + " --stream s --payload '{\"projectCreated\":{}}'")
                  .exit_code,
              0);
  }
  ASSERT_EQ(wharf("events export " + data() + " --out '" + tmp_.sub("all.wharf") + "'").exit_code,
            0);
  auto file = read_export(tmp_.sub("all.wharf"));
  ASSERT_TRUE(file) << file.error().message;
  std::string bytes = slurp(tmp_.sub("all.wharf"));
  size_t at = bytes.find(file->header.head_hash());
  ASSERT_NE(at, std::string::npos);
  bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
  std::ofstream(tmp_.sub("bad-head.wharf"), std::ios::binary) << bytes;
  auto verify = wharf("audit verify --file '" + tmp_.sub("bad-head.wharf") + "'");
  EXPECT_EQ(verify.exit_code, 1);
  EXPECT_NE(verify.err.find("header's head hash"), std::string::npos) << verify.err;
  EXPECT_EQ(verify.err.find("FAILED at position"), std::string::npos) << verify.err;
}

TEST_F(WharfCli, ProjectCreateBindsAGerritProjectFromFlags) {
  auto created = wharf(
      "project create " + data() +
      " --name app --gerrit-host review.example.com --gerrit-project team/app"
      " --gerrit-branch main --gerrit-branch 'release/*' --trigger-word recheck --env staging");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  auto tail = wharf("events tail " + data());
  ASSERT_EQ(tail.exit_code, 0) << tail.err;
  Envelope e;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(tail.out.substr(0, tail.out.find('\n')), &e)
          .ok());
  ASSERT_TRUE(e.payload().project_created().repository().has_gerrit()) << tail.out;
  const auto& g = e.payload().project_created().repository().gerrit();
  EXPECT_EQ(g.host(), "review.example.com");
  EXPECT_EQ(g.project(), "team/app");
  ASSERT_EQ(g.branches_size(), 2);
  EXPECT_EQ(g.branches(1), "release/*");
  ASSERT_EQ(g.trigger_words_size(), 1);
  EXPECT_EQ(g.trigger_words(0), "recheck");

  auto half = wharf("project create " + data() + " --name b --gerrit-host review.example.com");
  EXPECT_EQ(half.exit_code, 1);
  EXPECT_NE(half.err.find("--gerrit-project"), std::string::npos) << half.err;
}

// `token revoke` appends TokenRevoked for a token `token create` issued;
// a second revoke appends nothing, an unknown id is an error.
TEST_F(WharfCli, TokenRevokeAppendsTokenRevokedOnce) {
  auto created = wharf("token create " + data() + " --user uma");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string prefix = "token ";
  ASSERT_EQ(created.err.rfind(prefix, 0), 0u) << created.err;
  const std::string id = created.err.substr(prefix.size(), created.err.find(' ', prefix.size()) -
                                                               prefix.size());
  ASSERT_FALSE(id.empty());

  auto revoked = wharf("token revoke " + data() + " --id " + id + " --reason leaked");
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  EXPECT_NE(revoked.err.find("revoked at position"), std::string::npos) << revoked.err;
  auto again = wharf("token revoke " + data() + " --id " + id);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("already revoked"), std::string::npos) << again.err;
  auto unknown = wharf("token revoke " + data() + " --id no-such-token");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("no token \"no-such-token\""), std::string::npos) << unknown.err;

  auto tail = wharf("events tail " + data());
  ASSERT_EQ(tail.exit_code, 0) << tail.err;
  int revocations = 0;
  std::istringstream lines(tail.out);
  for (std::string line; std::getline(lines, line);) {
    Envelope e;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &e).ok()) << line;
    if (!e.payload().has_token_revoked()) continue;
    ++revocations;
    EXPECT_EQ(e.payload().token_revoked().token_id(), id);
    EXPECT_EQ(e.payload().token_revoked().reason(), "leaked");
  }
  EXPECT_EQ(revocations, 1) << tail.out;
}

TEST_F(WharfCli, ProjectFileIsParsedStrictlyAndKeepsItsGerritBinding) {
  auto write = [&](const std::string& name, const std::string& json) {
    std::ofstream(tmp_.sub(name)) << json;
    return "'" + tmp_.sub(name) + "'";
  };
  auto bound =
      wharf("project create " + data() + " --file " +
            write("gerrit.json",
                  R"({"project_id":"g1","repository":{"gerrit":{"host":"review.example.com",
                       "project":"app","branches":["main"],"trigger_words":["recheck"]}},
                       "environments":[{"name":"staging"}],"template":{"build":{"command":"make"}}})"));
  ASSERT_EQ(bound.exit_code, 0) << bound.err;
  auto tail = wharf("events tail " + data());
  EXPECT_NE(tail.out.find("\"host\":\"review.example.com\""), std::string::npos) << tail.out;

  auto typo = wharf(
      "project create " + data() + " --file " +
      write(
          "typo.json",
          R"({"project_id":"g2","repository":{"gerrit":{"host":"h","project":"p","branch":["main"]}}})"));
  EXPECT_EQ(typo.exit_code, 1);
  EXPECT_NE(typo.err.find("repository.gerrit.branch"), std::string::npos) << typo.err;
  auto top = wharf("project create " + data() + " --file " +
                   write("top.json", R"({"project_id":"g3","enviroments":[]})"));
  EXPECT_EQ(top.exit_code, 1);
  EXPECT_NE(top.err.find("\"enviroments\""), std::string::npos) << top.err;
  auto unused_flag = wharf("project create " + data() + " --env prod --file " +
                           write("ok.json", R"({"project_id":"g4"})"));
  EXPECT_EQ(unused_flag.exit_code, 1);
  EXPECT_NE(unused_flag.err.find("--env is not used with --file"), std::string::npos)
      << unused_flag.err;
  auto other_kind = wharf("project create " + data() + " --repo . --file '" +
                          tmp_.sub("gerrit.json") + "' --id g5");
  EXPECT_EQ(other_kind.exit_code, 1);
  EXPECT_NE(other_kind.err.find("conflicts with the gerrit repository"), std::string::npos)
      << other_kind.err;
  auto listed = wharf("events tail " + data());
  EXPECT_EQ(listed.out.find("\"g2\""), std::string::npos) << "a rejected file wrote nothing";
}

// A ref-updated held until end of file starts a run; --json counts it, and a
// --host no binding knows warns once.
TEST_F(WharfCli, GerritIngestJsonCountsEventsReleasedFromTheHold) {
  ASSERT_EQ(
      wharf(
          "project create " + data() +
          " --name app --gerrit-host review.example.com --gerrit-project app --gerrit-branch main")
          .exit_code,
      0);
  const std::string line =
      R"({"type":"ref-updated","submitter":{"name":"A","email":"a@example.com","username":"a"},)"
      R"("refUpdate":{"oldRev":"1111111111111111111111111111111111111111",)"
      R"("newRev":"2222222222222222222222222222222222222222","refName":"main","project":"app"},)"
      R"("eventCreatedOn":1700000000})";
  std::ofstream(tmp_.sub("stream.jsonl")) << line << "\n";
  auto ingest = wharf("gerrit ingest " + data() + " --host review.example.com --json --file '" +
                      tmp_.sub("stream.jsonl") + "'");
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_NE(ingest.out.find("\"held\":1"), std::string::npos) << ingest.out;
  EXPECT_NE(ingest.out.find("\"observed\":1"), std::string::npos) << ingest.out;
  EXPECT_EQ(ingest.err.find("matches no Gerrit binding"), std::string::npos) << ingest.err;
  auto tail = wharf("events tail " + data());
  EXPECT_NE(tail.out.find("PipelineRunStarted"), std::string::npos) << tail.out;

  std::ofstream(tmp_.sub("three.jsonl")) << line << "\n" << line << "\n" << line << "\n";
  auto wrong_host = wharf("gerrit ingest " + data() + " --host gerrit.other.org --json --file '" +
                          tmp_.sub("three.jsonl") + "'");
  ASSERT_EQ(wrong_host.exit_code, 0) << wrong_host.err;
  size_t first = wrong_host.err.find("--host gerrit.other.org matches no Gerrit binding");
  ASSERT_NE(first, std::string::npos) << wrong_host.err;
  EXPECT_EQ(wrong_host.err.find("matches no Gerrit binding", first + 30), std::string::npos)
      << "warned more than once: " << wrong_host.err;
  EXPECT_NE(wrong_host.err.find("review.example.com"), std::string::npos) << wrong_host.err;
}

// An auditor with the public key: a signed export verifies, one with a forged
// store id does not; one event is proven offline from a Merkle proof.
TEST_F(WharfCli, SignedExportAndMerkleProofCheckedWithThePublicKey) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(wharf("events append " + data() + " --stream s --payload '{\"projectCreated\":{}}'")
                  .exit_code,
              0);
  }
  const std::string key = tmp_.sub("audit.pem");
  auto keygen = wharf("audit keygen --out '" + key + "'");
  ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
  const std::string pub = "'" + key + ".pub'";
  auto exported = wharf("events export " + data() + " --audit-key '" + key + "' --out '" +
                        tmp_.sub("s.wharf") + "'");
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.err.find("recorded at position 6"), std::string::npos) << exported.err;
  auto ok = wharf("audit verify --file '" + tmp_.sub("s.wharf") + "' --trust-key " + pub);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("signed checkpoint verifies"), std::string::npos) << ok.out;

  auto file = read_export(tmp_.sub("s.wharf"));
  ASSERT_TRUE(file);
  std::string bytes = slurp(tmp_.sub("s.wharf"));
  size_t at = bytes.find(file->header.store_id());  // the header's own store id comes first
  ASSERT_NE(at, std::string::npos);
  bytes[at] = bytes[at] == 'a' ? 'b' : 'a';
  std::ofstream(tmp_.sub("forged.wharf"), std::ios::binary) << bytes;
  EXPECT_EQ(wharf("audit verify --file '" + tmp_.sub("forged.wharf") + "'").exit_code, 0)
      << "unsigned check passes";
  auto forged = wharf("audit verify --file '" + tmp_.sub("forged.wharf") + "' --trust-key " + pub);
  EXPECT_EQ(forged.exit_code, 1);
  EXPECT_NE(forged.err.find("verification FAILED"), std::string::npos) << forged.err;
  auto wrong_head = wharf("audit verify --file '" + tmp_.sub("s.wharf") + "' --expect-head " +
                          std::string(64, '0'));
  EXPECT_EQ(wrong_head.exit_code, 1) << wrong_head.out;

  auto proved =
      wharf("audit prove " + data() + " --position 3 --out '" + tmp_.sub("p3.json") + "'");
  ASSERT_EQ(proved.exit_code, 0) << proved.err;
  auto checked =
      wharf("audit verify-proof --proof '" + tmp_.sub("p3.json") + "' --trust-key " + pub);
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
  EXPECT_NE(checked.out.find("is position 3"), std::string::npos) << checked.out;
  ASSERT_EQ(wharf("audit keygen --out '" + tmp_.sub("other.pem") + "'").exit_code, 0);
  auto other = wharf("audit verify-proof --proof '" + tmp_.sub("p3.json") + "' --trust-key '" +
                     tmp_.sub("other.pem") + ".pub'");
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("not the trusted key"), std::string::npos) << other.err;
}

// `audit export` (the auditor's range export) signs with --audit-key too: the
// file verifies against that key only.
TEST_F(WharfCli, AuditExportSignedForARangeVerifiesOnlyWithItsKey) {
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(wharf("events append " + data() + " --stream s --payload '{\"projectCreated\":{}}'")
                  .exit_code,
              0);
  }
  const std::string key = tmp_.sub("audit.pem");
  const std::string other = tmp_.sub("other.pem");
  ASSERT_EQ(wharf("audit keygen --out '" + key + "'").exit_code, 0);
  ASSERT_EQ(wharf("audit keygen --out '" + other + "'").exit_code, 0);
  const std::string file = tmp_.sub("range.wharf");
  auto exported = wharf("audit export " + data() + " --to 3 --audit-key '" + key + "' --out '" +
                        file + "'");
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.out.find("signed"), std::string::npos) << exported.out;
  auto header = read_export(file);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->header.checkpoint().head_position(), 3u);
  auto ok = wharf("audit verify --file '" + file + "' --trust-key '" + key + ".pub'");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  auto wrong = wharf("audit verify --file '" + file + "' --trust-key '" + other + ".pub'");
  EXPECT_EQ(wrong.exit_code, 1) << wrong.out;
}

TEST_F(WharfCli, TailFollowSeesAppendsFromAnotherProcess) {
  ASSERT_EQ(wharf("events append " + data() + " --stream s --payload '{\"projectCreated\":{}}'")
                .exit_code,
            0);
  CliRun follow;
  std::thread tail([&] { follow = wharf("events tail --follow --limit 3 " + data()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(wharf("events append " + data() + " --stream s --payload '{\"projectCreated\":{}}'")
                  .exit_code,
              0);
  }
  tail.join();  // --limit 3 ends it once the third event arrives
  EXPECT_EQ(follow.exit_code, 0) << follow.err;
  EXPECT_EQ(std::count(follow.out.begin(), follow.out.end(), '\n'), 3) << follow.out;
  EXPECT_NE(follow.out.find("\"position\":\"3\""), std::string::npos);
}

}  // namespace
}  // namespace wharf::events
