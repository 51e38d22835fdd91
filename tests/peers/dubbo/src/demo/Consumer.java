package demo;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.net.URI;
import org.apache.dubbo.config.ApplicationConfig;
import org.apache.dubbo.config.ReferenceConfig;
import org.apache.dubbo.config.RegistryConfig;
import org.apache.dubbo.config.bootstrap.DubboBootstrap;
import org.apache.dubbo.rpc.RpcContext;

// A Dubbo consumer of demo.Greeter for wharf's canary tests, driven over HTTP:
// GET /calls?n=N[&tag=T] makes N calls (each with the client attachment
// dubbo.tag=T when given) and answers "canary C stable S errors E".
// Env: ZK (host:port), PORT (the HTTP port).
public final class Consumer {
  public static void main(String[] args) throws Exception {
    ReferenceConfig<Greeter> reference = new ReferenceConfig<>();
    reference.setInterface(Greeter.class);
    reference.setCheck(false);
    reference.setRetries(0);
    reference.setTimeout(2000);
    ApplicationConfig app = new ApplicationConfig("greeter-consumer");
    app.setQosEnable(false);
    DubboBootstrap.getInstance()
        .application(app)
        .registry(new RegistryConfig("zookeeper://" + System.getenv("ZK")))
        .reference(reference)
        .start();
    Greeter greeter = reference.get();

    HttpServer http = HttpServer.create(
        new InetSocketAddress("127.0.0.1", Integer.parseInt(System.getenv("PORT"))), 16);
    http.createContext("/calls", exchange -> answer(exchange, greeter));
    http.start();
    System.out.println("consumer ready");
    System.out.flush();
    Thread.currentThread().join();
  }

  private static synchronized void answer(HttpExchange exchange, Greeter greeter)
      throws java.io.IOException {
    int n = 0;
    String tag = null;
    URI uri = exchange.getRequestURI();
    for (String pair : uri.getQuery() == null ? new String[0] : uri.getQuery().split("&")) {
      String[] kv = pair.split("=", 2);
      if (kv[0].equals("n")) n = Integer.parseInt(kv[1]);
      if (kv[0].equals("tag") && kv.length == 2) tag = kv[1];
    }
    int canary = 0, stable = 0, errors = 0;
    for (int i = 0; i < n; i++) {
      if (tag != null) RpcContext.getClientAttachment().setAttachment("dubbo.tag", tag);
      try {
        String side = greeter.greet("wharf");
        if (side.startsWith("canary")) canary++; else stable++;
      } catch (RuntimeException e) {
        errors++;
      }
    }
    byte[] body = ("canary " + canary + " stable " + stable + " errors " + errors + "\n").getBytes();
    exchange.sendResponseHeaders(200, body.length);
    exchange.getResponseBody().write(body);
    exchange.close();
  }
}
