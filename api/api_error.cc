#include "api/api_error.h"

#include <boost/json/serialize.hpp>

namespace wharf::api {

std::string error_body(const std::string& code, const std::string& message,
                       const boost::json::value& details) {
  boost::json::object error;
  error["code"] = code;
  error["message"] = message;
  error["details"] = details;
  boost::json::object body;
  body["error"] = std::move(error);
  return boost::json::serialize(body);
}

std::string ApiError::body() const { return error_body(code_, what(), details_); }

ApiError bad_request(std::string code, std::string message, boost::json::value details) {
  return ApiError(http::status::bad_request, std::move(code), std::move(message),
                  std::move(details));
}

ApiError not_found(std::string message, boost::json::value details) {
  return ApiError(http::status::not_found, "not_found", std::move(message), std::move(details));
}

ApiError conflict(std::string message, boost::json::value details) {
  return ApiError(http::status::conflict, "conflict", std::move(message), std::move(details));
}

}  // namespace wharf::api
