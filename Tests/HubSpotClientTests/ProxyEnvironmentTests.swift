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
                try HTTPProxy.from(environment: ["http_proxy": "http://p:1"], scheme: "http", host: loopback) == nil)
        }
    }

    /// libcurl's rules the review found the first version missed: `HTTP_PROXY` in upper case is not read (a CGI
    /// program's environment carries a client's `Proxy:` header under that name), `all_proxy` serves either scheme,
    /// `*` disables the proxy only as the whole list, and a name that merely starts with `127.` is not loopback.
    @Test func libcurlsFinerRulesHold() throws {
        #expect(try HTTPProxy.from(environment: ["HTTP_PROXY": "http://p:1"], scheme: "http", host: "a.example") == nil)
        #expect(
            try HTTPProxy.from(environment: ["http_proxy": "http://p:1"], scheme: "http", host: "a.example")
                == HTTPProxy(host: "p", port: 1))
        #expect(
            try HTTPProxy.from(environment: ["ALL_PROXY": "http://p:2"], scheme: "https", host: "a.example")
                == HTTPProxy(host: "p", port: 2))
        let listed = ["HTTPS_PROXY": "http://p:1", "NO_PROXY": "b.example,*"]
        #expect(try HTTPProxy.from(environment: listed, scheme: "https", host: "a.example") != nil)
        #expect(try HTTPProxy.from(environment: listed, scheme: "https", host: "b.example") == nil)
        #expect(
            try HTTPProxy.from(environment: ["HTTPS_PROXY": "http://p:1"], scheme: "https", host: "127.evil.example")
                != nil)
        let percent = try HTTPProxy.from(
            environment: ["HTTPS_PROXY": "http://svc%25zz:p%25w@p:1"], scheme: "https", host: "a.example")
        #expect(percent?.username == "svc%zz" && percent?.password == "p%w")
    }

    @Test func aProxyThatIsNotPlainHTTPIsRefusedNotIgnored() {
        #expect(throws: TransportError.self) {
            try HTTPProxy.from(environment: ["HTTPS_PROXY": "socks5://p:1080"], scheme: "https", host: "x.example")
        }
    }
}
