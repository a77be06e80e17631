/// The in-kernel path manager's endpoint table and limits, as the daemon's
/// reconciler reaches them: list, add, delete, set flags; read and set the
/// limits. `PathManager` adopts it; tests answer it with a fake kernel (the
/// seam of `nltest.Dial` in Go's netlink), so what the reconciler does with
/// each answer is tested without a kernel.
public protocol EndpointOperations: AnyObject {
    /// Every endpoint (`MPTCP_PM_CMD_GET_ADDR`, dump).
    func endpoints() throws(MPTCPError) -> [Endpoint]
    /// Adds one endpoint with the id it carries (`MPTCP_PM_CMD_ADD_ADDR`).
    func addEndpoint(_ endpoint: Endpoint) throws(MPTCPError)
    /// Deletes the endpoint `id` (`MPTCP_PM_CMD_DEL_ADDR`); `isNotFound` when it is gone.
    func deleteEndpoint(id: UInt8) throws(MPTCPError)
    /// Replaces the flags of endpoint `id` (`MPTCP_PM_CMD_SET_FLAGS`).
    func setEndpointFlags(id: UInt8, flags: EndpointFlags) throws(MPTCPError)
    /// The namespace's limits (`MPTCP_PM_CMD_GET_LIMITS`).
    func limits() throws(MPTCPError) -> Limits
    /// Sets the limits given; nil keeps one as it is (`MPTCP_PM_CMD_SET_LIMITS`).
    func setLimits(subflows: UInt32?, addAddrAccepted: UInt32?) throws(MPTCPError)
}

extension PathManager: EndpointOperations {}
