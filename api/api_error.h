#pragma once
// The one error shape of the API: {"error":{"code":…,"message":…,"details":…}}
// with an HTTP status. Handlers throw ApiError; the dispatcher turns it into a
// response, so every failure path answers the same way.
#include <boost/beast/http/status.hpp>
#include <boost/json/value.hpp>
#include <stdexcept>
#include <string>

namespace wharf::api {

namespace http = boost::beast::http;

class ApiError : public std::runtime_error {
 public:
  ApiError(http::status status, std::string code, std::string message,
           boost::json::value details = nullptr)
      : std::runtime_error(message),
        status_(status),
        code_(std::move(code)),
        details_(std::move(details)) {}

  http::status status() const { return status_; }
  const std::string& code() const { return code_; }
  const boost::json::value& details() const { return details_; }

  // {"error":{...}} as serialized JSON.
  std::string body() const;

 private:
  http::status status_;
  std::string code_;
  boost::json::value details_;
};

std::string error_body(const std::string& code, const std::string& message,
                       const boost::json::value& details = nullptr);

// Shorthands for the common cases.
ApiError bad_request(std::string code, std::string message, boost::json::value details = nullptr);
ApiError not_found(std::string message, boost::json::value details = nullptr);
ApiError conflict(std::string message, boost::json::value details = nullptr);

}  // namespace wharf::api
