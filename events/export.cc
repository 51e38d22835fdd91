// Export writer and reader, and verification of an export file.
#include "events/export.h"

#include <fcntl.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/util/delimited_message_util.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "events/checkpoint.h"
#include "events/hash_chain.h"
#include "events/keys.h"

namespace wharf::events {
namespace {

using google::protobuf::io::FileInputStream;
using google::protobuf::io::FileOutputStream;
using google::protobuf::util::ParseDelimitedFromZeroCopyStream;
using google::protobuf::util::SerializeDelimitedToZeroCopyStream;

Unexpected<Error> fail(ErrorCode code, std::string message, uint64_t position = 0) {
  Error e;
  e.code = code;
  e.message = std::move(message);
  e.position = position;
  return unexpected(std::move(e));
}

// Hash of the event at `position` (zero_hash() for position 0).
Expected<std::string, Error> hash_at(const EventStore& store, uint64_t position) {
  if (position == 0) return zero_hash();
  std::string hash;
  auto r = store.scan(position, position, [&](const Envelope& e) {
    hash = e.hash();
    return false;
  });
  if (!r) return unexpected(r.error());
  if (*r != position)
    return fail(ErrorCode::kNotFound, "no event at position " + std::to_string(position));
  return hash;
}

// Reads delimited messages from a file descriptor it owns.
class DelimitedReader {
 public:
  explicit DelimitedReader(const std::string& path)
      : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ >= 0) stream_ = std::make_unique<FileInputStream>(fd_);
  }
  ~DelimitedReader() {
    stream_.reset();
    if (fd_ >= 0) ::close(fd_);
  }
  bool is_open() const { return fd_ >= 0; }
  // 1: read one; 0: clean end of file; -1: malformed.
  int next(google::protobuf::MessageLite* message) {
    message->Clear();  // ParseDelimitedFromZeroCopyStream merges into the message
    bool clean_eof = false;
    if (ParseDelimitedFromZeroCopyStream(message, stream_.get(), &clean_eof)) return 1;
    return clean_eof ? 0 : -1;
  }

 private:
  int fd_;
  std::unique_ptr<FileInputStream> stream_;
};

VerifyReport bad(uint64_t position, uint64_t checked, std::string message) {
  VerifyReport r;
  r.ok = false;
  r.first_bad_position = position;
  r.events_checked = checked;
  r.message = std::move(message);
  return r;
}

}  // namespace

Expected<ExportSummary, Error> export_events(const EventStore& store, const std::string& path,
                                             const ExportOptions& options) {
  const uint64_t head = store.head_position();
  ExportSummary summary;
  summary.from_position = std::max<uint64_t>(options.from_position, 1);
  summary.to_position = options.to_position != 0 ? options.to_position
                        : options.checkpoint     ? options.checkpoint->head_position()
                                                 : head;
  if (options.checkpoint && options.checkpoint->head_position() != summary.to_position) {
    return fail(ErrorCode::kInvalidArgument,
                "the checkpoint covers 1.." + std::to_string(options.checkpoint->head_position()) +
                    ", not the export's end " + std::to_string(summary.to_position));
  }
  if (summary.to_position > head) {
    return fail(ErrorCode::kInvalidArgument, "cannot export to position " +
                                                 std::to_string(summary.to_position) +
                                                 ": the head is " + std::to_string(head));
  }
  if (summary.from_position > summary.to_position + 1) {
    return fail(ErrorCode::kInvalidArgument, "empty or inverted range " +
                                                 std::to_string(summary.from_position) + ".." +
                                                 std::to_string(summary.to_position));
  }
  auto before = hash_at(store, summary.from_position - 1);
  if (!before) return unexpected(before.error());

  wharf::v1::ExportHeader header;
  header.set_format(kExportFormat);
  header.set_store_id(store.store_id());
  header.set_from_position(summary.from_position);
  header.set_to_position(summary.to_position);
  header.set_hash_before(*before);
  header.set_head_position(head);
  header.set_filter(options.filter_description.empty() ? "all events" : options.filter_description);
  header.set_exported_at_us(std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  auto last_hash = hash_at(store, summary.to_position);
  if (!last_hash) return unexpected(last_hash.error());
  header.set_head_hash(*last_hash);
  if (options.checkpoint) *header.mutable_checkpoint() = *options.checkpoint;
  summary.head_hash = *last_hash;

  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(ErrorCode::kIo, "cannot create " + tmp + ": " + std::strerror(errno));
  bool ok = true;
  {
    FileOutputStream out(fd);
    ok = SerializeDelimitedToZeroCopyStream(header, &out);
    uint64_t expected = summary.from_position;
    wharf::v1::ExportRecord record;
    Error read_error;
    auto scanned = store.scan(summary.from_position, summary.to_position, [&](const Envelope& e) {
      if (e.position() != expected) {
        read_error.code = ErrorCode::kCorruption;
        read_error.position = expected;
        read_error.message = "the log has no event at position " + std::to_string(expected);
        return false;
      }
      ++expected;
      if (!options.include || options.include(e)) {
        *record.mutable_event() = e;
        ++summary.events_written;
      } else {
        auto* omitted = record.mutable_omitted();
        omitted->set_position(e.position());
        omitted->set_content_digest(content_digest(e));
        omitted->set_hash(e.hash());
        ++summary.events_omitted;
      }
      ok = ok && SerializeDelimitedToZeroCopyStream(record, &out);
      return ok;
    });
    if (!scanned || !read_error.message.empty() || expected != summary.to_position + 1) {
      out.Close();
      ::unlink(tmp.c_str());
      if (!scanned) return unexpected(scanned.error());
      if (!read_error.message.empty()) return unexpected(read_error);
      return fail(ErrorCode::kCorruption,
                  "the log ends at " + std::to_string(expected - 1) + " before position " +
                      std::to_string(summary.to_position),
                  expected);
    }
    ok = out.Flush() && ok;
  }
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok) {
    ::unlink(tmp.c_str());
    return fail(ErrorCode::kIo, "cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail(ErrorCode::kIo,
                "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
  }
  return summary;
}

Expected<ExportFile, Error> read_export(const std::string& path) {
  DelimitedReader reader(path);
  if (!reader.is_open())
    return fail(ErrorCode::kNotFound, "cannot open " + path + ": " + std::strerror(errno));
  ExportFile file;
  if (reader.next(&file.header) != 1 || file.header.format() != kExportFormat) {
    return fail(ErrorCode::kCorruption,
                path + " is not a wharf export (no " + kExportFormat + " header)");
  }
  while (true) {
    wharf::v1::ExportRecord record;
    int r = reader.next(&record);
    if (r == 0) break;
    uint64_t position = file.header.from_position() + file.records.size();
    if (r < 0) {
      return fail(
          ErrorCode::kCorruption,
          path + ": the record for position " + std::to_string(position) + " does not decode",
          position);
    }
    file.records.push_back(std::move(record));
  }
  return file;
}

VerifyReport verify_export(const std::string& path, const VerifyExportOptions& options) {
  DelimitedReader reader(path);
  if (!reader.is_open()) return bad(0, 0, "cannot open " + path + ": " + std::strerror(errno));
  wharf::v1::ExportHeader header;
  if (reader.next(&header) != 1 || header.format() != kExportFormat) {
    return bad(0, 0,
               path + " is not a wharf export (no " + std::string(kExportFormat) + " header)");
  }
  if (header.hash_before().size() != keys::kDigestSize) {
    return bad(0, 0, path + ": the header's hash_before is not a SHA-256");
  }
  std::string prev = header.hash_before();
  uint64_t expected = header.from_position();
  uint64_t checked = 0;
  wharf::v1::ExportRecord record;
  // From position 1 the whole Merkle tree can be recomputed from the file.
  const bool from_start = header.from_position() == 1;
  MerkleFrontier tree;
  while (true) {
    int r = reader.next(&record);
    if (r == 0) break;
    const std::string at = "position " + std::to_string(expected);
    if (r < 0) return bad(expected, checked, at + ": the record does not decode");
    if (expected > header.to_position()) {
      return bad(
          expected, checked,
          at + ": record beyond the header's to_position " + std::to_string(header.to_position()));
    }
    std::string hash;
    if (record.has_event()) {
      const Envelope& e = record.event();
      if (e.position() != expected) {
        return bad(expected, checked,
                   at + ": the record says position " + std::to_string(e.position()));
      }
      if (e.prev_hash() != prev)
        return bad(expected, checked, at + ": prev_hash does not link to the previous event");
      hash = chain_hash(prev, content_digest(e));
      if (hash != e.hash())
        return bad(expected, checked, at + ": the event's content does not match its hash");
    } else if (record.has_omitted()) {
      const auto& o = record.omitted();
      if (o.position() != expected) {
        return bad(expected, checked,
                   at + ": the omitted record says position " + std::to_string(o.position()));
      }
      hash = chain_hash(prev, o.content_digest());
      if (hash != o.hash())
        return bad(expected, checked, at + ": the omitted event's digest does not match its hash");
    } else {
      return bad(expected, checked, at + ": empty record");
    }
    if (from_start) tree.push(merkle_leaf(expected, hash));
    prev = std::move(hash);
    ++checked;
    ++expected;
  }
  if (expected != header.to_position() + 1) {
    return bad(expected, checked,
               "the export ends before position " + std::to_string(expected) +
                   " but the header says it runs to " + std::to_string(header.to_position()));
  }
  if (prev != header.head_hash()) {
    // Every record verified; what fails is the header's claim about them.
    return bad(0, checked,
               "the header's head hash " + to_hex(header.head_hash()) +
                   " does not match the chain: all " + std::to_string(checked) +
                   " records link, and the hash at position " +
                   std::to_string(header.to_position()) + " is " + to_hex(prev));
  }
  std::string anchored;
  if (!options.expected_head_hash.empty() && prev != options.expected_head_hash) {
    return bad(0, checked,
               "the chain ends at head hash " + to_hex(prev) + ", not the expected " +
                   to_hex(options.expected_head_hash));
  }
  if (!options.trusted_public_key.empty()) {
    if (!header.has_checkpoint()) {
      return bad(0, checked,
                 "the export carries no signed checkpoint (export it with --audit-key)");
    }
    const auto& c = header.checkpoint();
    if (std::string wrong = verify_checkpoint(c, options.trusted_public_key); !wrong.empty()) {
      return bad(0, checked, wrong);
    }
    if (c.store_id() != header.store_id()) {
      return bad(0, checked,
                 "the header names store " + header.store_id() +
                     " but the signed checkpoint is of store " + c.store_id());
    }
    if (c.head_position() != header.to_position() || c.head_hash() != prev) {
      return bad(0, checked,
                 "the signed checkpoint (position " + std::to_string(c.head_position()) +
                     ", head hash " + to_hex(c.head_hash()) +
                     ") is not where the chain ends (position " +
                     std::to_string(header.to_position()) + ", " + to_hex(prev) + ")");
    }
    if (from_start && tree.root() != c.merkle_root()) {
      return bad(0, checked,
                 "the Merkle root of the file's events differs from the signed checkpoint's");
    }
    anchored = "; signed checkpoint verifies (key " + to_hex(c.public_key()) + ")";
  }
  VerifyReport ok;
  ok.ok = true;
  ok.events_checked = checked;
  ok.message = "export of store " + header.store_id() + ", positions " +
               std::to_string(header.from_position()) + ".." +
               std::to_string(header.to_position()) + " (" + header.filter() +
               "): chain verifies, head hash " + to_hex(header.head_hash()) + anchored;
  return ok;
}

}  // namespace wharf::events
