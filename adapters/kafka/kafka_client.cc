#include "adapters/kafka/kafka_client.h"

#include <spdlog/spdlog.h>

#include <string_view>

namespace wharf::kafka {
namespace {

// librdkafka's syslog levels mapped onto spdlog's.
void log_to_spdlog(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  const char* name = rk != nullptr ? rd_kafka_name(rk) : "rdkafka";
  // The relay sets enable.gapless.guarantee on purpose (relay.cc); librdkafka
  // warns that it is experimental on every producer it creates.
  if (std::string_view(facility) == "CONFWARN" &&
      std::string_view(message).find("enable.gapless.guarantee") != std::string_view::npos) {
    level = 7;
  }
  auto spd = level <= 3   ? spdlog::level::err
             : level == 4 ? spdlog::level::warn
             : level <= 6 ? spdlog::level::info
                          : spdlog::level::debug;
  spdlog::log(spd, "kafka [{}] {}: {}", name, facility, message);
}

}  // namespace

Expected<KafkaConf, std::string> make_conf(const Properties& properties,
                                           const std::string& log_name) {
  KafkaConf conf(rd_kafka_conf_new());
  char error[512];
  Properties all{{"client.id", log_name}};
  all.insert(all.end(), properties.begin(), properties.end());
  for (const auto& [key, value] : all) {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      return unexpected(std::string("kafka property ") + key + "=" + value + ": " + error);
    }
  }
  rd_kafka_conf_set_log_cb(conf.get(), log_to_spdlog);
  return conf;
}

Expected<KafkaHandle, std::string> make_handle(rd_kafka_type_t type, KafkaConf conf) {
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), error, sizeof(error));
  if (rk == nullptr) return unexpected(std::string("rd_kafka_new: ") + error);
  conf.release();  // owned by rk now
  return KafkaHandle(rk);
}

}  // namespace wharf::kafka
