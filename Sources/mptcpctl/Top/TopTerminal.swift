import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The terminal `top` draws on. While it runs: no echo, no line buffering (keys
/// arrive one by one), the alternate screen, the cursor hidden; all of it given
/// back on `q`, on an error, and on SIGINT/SIGTERM/SIGHUP/SIGQUIT (the handler only records the
/// signal: the loop restores the terminal, then dies of the signal as usual).
enum TopTerminal {
    /// The signal that asked top to stop, 0 while none did.
    static let stopSignal = Atomic<Int32>(0)

    /// Installs the stop handlers (for plain output too, so that an interrupted
    /// wait between frames ends as promptly as one on a terminal).
    static func catchStopSignals() {
        var stop = sigset_t()
        sigemptyset(&stop)
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
            sigaddset(&stop, sig)
            signal(sig) { TopTerminal.stopSignal.store($0, ordering: .relaxed) }
        }
        pthread_sigmask(SIG_UNBLOCK, &stop, nil)
    }

    /// The settings found at `enter`, put back by `restore`.
    final class Session {
        private var saved = termios()
        private var raw = false

        /// Raw keys (when standard input is a terminal) and the alternate screen.
        init(keys: Bool) {
            if keys, tcgetattr(0, &saved) == 0 {
                var settings = saved
                settings.c_lflag &= ~tcflag_t(ICANON | ECHO)
                settings.c_cc.6 = 0  // VMIN: a read returns what is there
                settings.c_cc.5 = 0  // VTIME
                raw = tcsetattr(0, TCSANOW, &settings) == 0
            }
            Output.text("\u{1B}[?1049h\u{1B}[?25l\u{1B}[H\u{1B}[2J")
        }

        /// Puts back what `init` changed; idempotent.
        func restore() {
            if raw { tcsetattr(0, TCSANOW, &saved) }
            raw = false
            Output.text("\u{1B}[?25h\u{1B}[?1049l")
        }

        deinit { restore() }

        /// Draws `lines` over the previous frame (home, each line cleared to its end, the rest below cleared).
        func draw(_ lines: [String]) {
            Output.text("\u{1B}[H" + lines.map { $0 + "\u{1B}[K" }.joined(separator: "\r\n") + "\u{1B}[K\u{1B}[J")
        }
    }

    /// Columns and rows of the terminal on standard output, nil when it is not one.
    static func size() -> (width: Int, height: Int)? {
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0, size.ws_row > 0 else { return nil }
        return (Int(size.ws_col), Int(size.ws_row))
    }

    /// Waits until the monotonic `deadline` or a key (when `keys`), whichever
    /// comes first; returns the key's byte. A stop signal ends the wait (nil).
    static func waitForKey(until deadline: Double, keys: Bool) -> UInt8? {
        while stopSignal.load(ordering: .relaxed) == 0 {
            let left = deadline - monotonicSeconds()
            if left <= 0 { return nil }
            var fds = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, keys ? 1 : 0, Int32(min(left * 1000, 1000).rounded(.up)))
            if ready > 0 && fds[0].revents & Int16(POLLIN) != 0 {
                var byte: UInt8 = 0
                if read(0, &byte, 1) == 1 { return byte }
                // End of input on a terminal: keys are gone, wait on the clock alone.
                return waitForKey(until: deadline, keys: false)
            }
        }
        return nil
    }

    /// CLOCK_MONOTONIC in seconds: what rates divide by.
    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// CLOCK_REALTIME in seconds since 1970, and as local `HH:MM:SS`.
    static func wallClock() -> (seconds: Double, text: String) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        localtime_r(&seconds, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return (Double(now.tv_sec) + Double(now.tv_nsec) / 1e9, "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))")
    }
}
