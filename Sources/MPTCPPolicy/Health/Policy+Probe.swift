extension Policy {
    /// The probe settings of interface `name`'s paths, or nil when they are not
    /// probed: no block names it, its block has `role = "off"`, `probe = false`,
    /// or `mode = "off"` in its `probe` or in `[probe]`.
    public func probeSettings(for name: String) -> ProbeSettings? {
        guard let rule = rule(for: name), rule.role != .off else { return nil }
        let settings = rule.probe ?? probe
        return settings.mode == .on ? settings : nil
    }
}
