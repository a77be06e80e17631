import MPTCPKit

/// What the kernel made of one userspace-PM command, as the tracker needs to
/// know it. Built from the kernel's answer through MPTCPKit's classification
/// (`MPTCPError.isUnknownToken` …), never from its text.
public enum CommandOutcome: Hashable, Sendable {
    /// Done.
    case sent
    /// The connection is not fully established yet (adopted too early): its
    /// ESTABLISHED event comes later.
    case notYetEstablished
    /// The connection belongs to the in-kernel path manager.
    case otherPathManager(MPTCPError)
    /// No connection has the token any more: it closed meanwhile.
    case connectionGone
    /// Any other refusal.
    case refused(MPTCPError)

    /// The outcome of a kernel answer.
    public init(_ result: Result<Void, MPTCPError>) {
        switch result {
        case .success: self = .sent
        case .failure(let error): self.init(error)
        }
    }

    /// The outcome of a refusal.
    public init(_ error: MPTCPError) {
        if error.isNotConnected {
            self = .notYetEstablished
        } else if error.isUserspacePMNotSelected {
            self = .otherPathManager(error)
        } else if error.isUnknownToken {
            self = .connectionGone
        } else {
            self = .refused(error)
        }
    }

    /// The refusal, when the tracker keeps it (nil for `sent`, `notYetEstablished` and `connectionGone`).
    public var error: MPTCPError? {
        switch self {
        case .sent, .connectionGone, .notYetEstablished: nil
        case .otherPathManager(let e), .refused(let e): e
        }
    }

    /// A destroy found nothing to destroy: the subflow had closed already.
    var subflowAlreadyGone: Bool {
        if case .refused(let e) = self { return e.isNoSuchSubflow }
        return false
    }
}
