import MPTCPKit

extension RPCParams {
    /// `token`: 8 hex digits as `monitor` prints it, or 0x-prefixed.
    public func token() throws(RPCError) -> UInt32 {
        let text = try requiredString("token")
        guard let token = parseToken(text) else { throw .invalidParams("params.token: \"\(text)\" is not 8 hex digits") }
        return token
    }

    public func address(_ key: String) throws(RPCError) -> IPAddress {
        let text = try requiredString(key)
        guard let address = IPAddress(text) else { throw .invalidParams("params.\(key): \"\(text)\" is not an IPv4 or IPv6 address") }
        return address
    }

    /// A port (1-65535); 0 when absent and not required.
    public func port(_ key: String, required: Bool) throws(RPCError) -> UInt16 {
        guard let port = try integer(key, in: 1...65535) else {
            if required { throw .invalidParams("params.\(key): required") }
            return 0
        }
        return UInt16(port)
    }
}
