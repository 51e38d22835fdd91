package demo;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import org.apache.dubbo.config.ApplicationConfig;
import org.apache.dubbo.config.ProtocolConfig;
import org.apache.dubbo.config.ProviderConfig;
import org.apache.dubbo.config.RegistryConfig;
import org.apache.dubbo.config.ServiceConfig;
import org.apache.dubbo.config.bootstrap.DubboBootstrap;

// A Dubbo provider of demo.Greeter for wharf's canary tests. Its side is
// "canary" when DUBBO_LABELS holds env=canary (the label wharf's local target
// gives a canary instance), else "stable"; greet() answers "<side> <version>".
// Env: ZK (host:port), PORT (an HTTP port answering 200 on / for health
// checks; the Dubbo port is PORT+1000 unless DUBBO_PORT is set),
// WHARF_VERSION, APP (application name, default "greeter").
public final class Provider {
  public static void main(String[] args) throws Exception {
    String labels = System.getenv().getOrDefault("DUBBO_LABELS", "");
    String side = labels.matches("(^|.*;)\\s*env=canary\\s*(;.*|$)") ? "canary" : "stable";
    String version = System.getenv().getOrDefault("WHARF_VERSION", "dev");
    int httpPort = Integer.parseInt(System.getenv().getOrDefault("PORT", "0"));
    int dubboPort = Integer.parseInt(
        System.getenv().getOrDefault("DUBBO_PORT", String.valueOf(httpPort + 1000)));
    String answer = side + " " + version;

    ServiceConfig<Greeter> service = new ServiceConfig<>();
    service.setInterface(Greeter.class);
    service.setRef(name -> answer);
    ApplicationConfig app = new ApplicationConfig(System.getenv().getOrDefault("APP", "greeter"));
    app.setQosEnable(false);
    ProviderConfig provider = new ProviderConfig();
    provider.setWarmup(0);
    ProtocolConfig protocol = new ProtocolConfig("dubbo", dubboPort);
    DubboBootstrap.getInstance()
        .application(app)
        .registry(new RegistryConfig("zookeeper://" + System.getenv("ZK")))
        .protocol(protocol)
        .provider(provider)
        .service(service)
        .start();
    if (httpPort > 0) {
      HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", httpPort), 16);
      http.createContext("/", exchange -> {
        byte[] body = (answer + "\n").getBytes();
        exchange.sendResponseHeaders(200, body.length);
        exchange.getResponseBody().write(body);
        exchange.close();
      });
      http.start();
    }
    System.out.println("provider ready: " + answer + " on dubbo port " + dubboPort);
    System.out.flush();
    Thread.currentThread().join();
  }
}
