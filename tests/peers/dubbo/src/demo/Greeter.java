package demo;

// The Dubbo service of wharf's canary tests: says which side answered.
public interface Greeter {
  String greet(String name);
}
