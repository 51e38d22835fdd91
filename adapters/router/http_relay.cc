#include "adapters/router/http_relay.h"

#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

namespace wharf::router {

namespace {
constexpr std::size_t kReadSize = 16 * 1024;
constexpr std::size_t kFlushAt = 64 * 1024;
}  // namespace

void RequestFacts::clear_seen() {
  head = false;
  header_present = false;
  header_value.clear();
  cookie.clear();
}

template <bool isRequest>
void Framing<isRequest>::on_request_impl(http::verb method, string_view, string_view, int,
                                         error_code&) {
  if (facts_) facts_->head = method == http::verb::head;
}

template <bool isRequest>
void Framing<isRequest>::on_field_impl(http::field name, string_view name_string, string_view value,
                                       error_code&) {
  if (!facts_) return;
  if (name == http::field::cookie) {
    // Several Cookie headers are one list (RFC 6265 §5.4 sends one; be lenient).
    if (!facts_->cookie.empty()) facts_->cookie += "; ";
    facts_->cookie.append(value.data(), value.size());
  }
  if (!facts_->match_header.empty() && !facts_->header_present &&
      boost::beast::iequals(name_string, facts_->match_header)) {
    facts_->header_present = true;
    facts_->header_value.assign(value.data(), value.size());
  }
}

template <bool isRequest>
bool relay(boost::asio::ip::tcp::socket& from, boost::beast::flat_buffer& in,
           Framing<isRequest>& parser, Until until, std::string& out, Sink* sink, error_code& ec) {
  ec = {};
  for (;;) {
    if (until == Until::head ? parser.is_header_done() : parser.is_done()) return true;
    if (in.size() > 0) {
      auto data = in.data();
      std::size_t used = parser.put(data, ec);
      out.append(static_cast<const char*>(data.data()), used);
      in.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
      } else if (ec) {
        return false;
      } else if (used > 0 || in.size() == 0) {
        continue;
      }
    }
    if (sink && out.size() >= kFlushAt) {
      boost::asio::write(sink->socket, boost::asio::buffer(out), ec);
      if (ec) return false;
      sink->written += out.size();
      out.clear();
    }
    std::size_t got = from.read_some(in.prepare(kReadSize), ec);
    in.commit(got);
    if (ec == boost::asio::error::eof) {
      if (!parser.got_some()) {
        ec = http::error::end_of_stream;
        return false;
      }
      ec = {};
      parser.put_eof(ec);  // completes a close-delimited body, else partial_message
      return !ec;
    }
    if (ec) return false;
  }
}

template bool relay<true>(boost::asio::ip::tcp::socket&, boost::beast::flat_buffer&, Framing<true>&,
                          Until, std::string&, Sink*, error_code&);
template bool relay<false>(boost::asio::ip::tcp::socket&, boost::beast::flat_buffer&,
                           Framing<false>&, Until, std::string&, Sink*, error_code&);
template class Framing<true>;
template class Framing<false>;

void scan_request_head(std::string_view head, RequestFacts& facts) {
  facts.clear_seen();
  Framing<true> parser(&facts);
  parser.skip(true);  // the head only
  error_code ec;
  parser.put(boost::asio::buffer(head.data(), head.size()), ec);
}

void add_header(std::string& head, std::string_view name, std::string_view value) {
  // The head ends in "\r\n\r\n"; the new line goes before the blank line.
  head.resize(head.size() - 2);
  head.append(name).append(": ").append(value).append("\r\n\r\n");
}

}  // namespace wharf::router
