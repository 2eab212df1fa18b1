import Testing

@testable import HubSpotClient

/// The proxy is read from the environment as libcurl (under URLSession, before AsyncHTTPClient) read it.
@Suite struct ProxyEnvironmentTests {
    @Test func theSchemesVariableNamesTheProxyUpperOrLowerCase() throws {
        let upper = try HTTPProxy.from(
            environment: ["HTTPS_PROXY": "http://proxy.example:3128"], scheme: "https", host: "api.hubapi.com")
        #expect(upper == HTTPProxy(host: "proxy.example", port: 3128))
        let lower = try HTTPProxy.from(
            environment: ["https_proxy": "proxy.example:8080", "HTTPS_PROXY": "http://other:1"], scheme: "https",
            host: "api.hubapi.com")
        #expect(lower == HTTPProxy(host: "proxy.example", port: 8080))
        #expect(
            try HTTPProxy.from(environment: ["HTTPS_PROXY": "http://p:1"], scheme: "http", host: "api.hubapi.com")
                == nil)
        #expect(try HTTPProxy.from(environment: [:], scheme: "https", host: "api.hubapi.com") == nil)
    }

    @Test func credentialsInTheURLAuthenticateToTheProxy() throws {
        let proxy = try HTTPProxy.from(
            environment: ["HTTPS_PROXY": "http://svc%40corp:s3cr%3At@proxy.example:3128"], scheme: "https",
            host: "api.hubapi.com")
        #expect(proxy?.username == "svc@corp" && proxy?.password == "s3cr:t")
    }

    @Test func exceptionsAndLoopbackGoDirect() throws {
        let environment = ["HTTPS_PROXY": "http://proxy.example:3128", "NO_PROXY": "internal.example, .hubapi.com"]
        #expect(try HTTPProxy.from(environment: environment, scheme: "https", host: "api.hubapi.com") == nil)
        #expect(try HTTPProxy.from(environment: environment, scheme: "https", host: "hubapi.com") == nil)
        #expect(try HTTPProxy.from(environment: environment, scheme: "https", host: "crm.internal.example") == nil)
        #expect(try HTTPProxy.from(environment: environment, scheme: "https", host: "nothubapi.com") != nil)
        #expect(
            try HTTPProxy.from(environment: ["HTTPS_PROXY": "http://p:1", "no_proxy": "*"], scheme: "https", host: "x")
                == nil)
        for loopback in ["127.0.0.1", "localhost", "::1", "[::1]"] {
            #expect(
                try HTTPProxy.from(environment: ["HTTP_PROXY": "http://p:1"], scheme: "http", host: loopback) == nil)
        }
    }

    @Test func aProxyThatIsNotPlainHTTPIsRefusedNotIgnored() {
        #expect(throws: TransportError.self) {
            try HTTPProxy.from(environment: ["HTTPS_PROXY": "socks5://p:1080"], scheme: "https", host: "x.example")
        }
    }
}
