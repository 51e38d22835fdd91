#pragma once
// Moves HTTP/1.1 messages between sockets byte for byte. Beast's basic_parser
// walks the bytes to find where each message ends and notes the few fields
// the router acts on; nothing is re-serialised and no header map is built,
// which is what keeps the router cheaper per request than the service behind
// it (bench/router).
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace wharf::router {

namespace http = boost::beast::http;
using boost::beast::error_code;

// What the router reads off a request head: the canary header (by name,
// case-insensitive) and the Cookie header.
struct RequestFacts {
  std::string match_header;  // "" = none configured
  bool head = false;         // HEAD: the response has no body
  bool header_present = false;
  std::string header_value;
  std::string cookie;
  void clear_seen();
};

template <bool isRequest>
class Framing final : public http::basic_parser<isRequest> {
 public:
  // Requests note into `facts`; responses take nullptr.
  explicit Framing(RequestFacts* facts) : facts_(facts) {}
  int status() const { return status_; }

 private:
  using string_view = boost::beast::string_view;
  void on_request_impl(http::verb method, string_view, string_view, int, error_code&) override;
  void on_response_impl(int code, string_view, int, error_code&) override { status_ = code; }
  void on_field_impl(http::field name, string_view name_string, string_view value,
                     error_code&) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code&) override { return body.size(); }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  RequestFacts* facts_;
  int status_ = 0;
};

extern template class Framing<true>;
extern template class Framing<false>;

enum class Until { head, end };

// Where a streamed body goes: `relay` writes the bytes gathered so far to
// `socket` whenever they pass 64 KiB and more input is needed.
struct Sink {
  boost::asio::ip::tcp::socket& socket;
  std::size_t written = 0;
};

// Reads from `from` (through its unparsed input `in`) until `parser` has the
// message's head or all of it, appending the bytes it parsed to `out` (less
// what went to `sink`). A close before the message's first byte gives
// error::end_of_stream; a close-delimited body ends at the close.
template <bool isRequest>
bool relay(boost::asio::ip::tcp::socket& from, boost::beast::flat_buffer& in,
           Framing<isRequest>& parser, Until until, std::string& out, Sink* sink, error_code& ec);

// Re-reads a complete request head already relayed (for a routing rule that
// changed while the request was read).
void scan_request_head(std::string_view head, RequestFacts& facts);

// Inserts a header line into a complete message head held in `head`
// (which ends in the blank line).
void add_header(std::string& head, std::string_view name, std::string_view value);

}  // namespace wharf::router
