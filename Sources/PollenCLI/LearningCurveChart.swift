import Foundation

/// A learning-curve chart as a standalone SVG file: accuracy (left axis, 0–1) and loss (right axis) per round.
struct LearningCurveChart {
    /// One plotted line.
    struct Series {
        var name: String
        var color: String
        var dashed: Bool
        var onLossAxis: Bool
        var points: [(round: Int, value: Double)]
    }

    var title: String
    var series: [Series]

    private let width = 760.0
    private let height = 420.0
    private let left = 60.0
    private let right = 60.0
    private let top = 40.0
    private let bottom = 90.0

    func svg() -> String {
        let rounds = series.flatMap { $0.points.map(\.round) }
        let firstRound = Double(rounds.min() ?? 0)
        let lastRound = Double(max(rounds.max() ?? 1, (rounds.min() ?? 0) + 1))
        let lossMax = niceCeiling(series.filter(\.onLossAxis).flatMap { $0.points.map(\.value) }.max() ?? 1)
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        func x(_ round: Int) -> Double { left + (Double(round) - firstRound) / (lastRound - firstRound) * plotWidth }
        func y(_ value: Double, loss: Bool) -> Double {
            let fraction = loss ? value / lossMax : value
            return top + (1 - min(max(fraction, 0), 1)) * plotHeight
        }

        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>

            """
        for tick in 0...5 {
            let fraction = Double(tick) / 5
            let yy = top + (1 - fraction) * plotHeight
            svg += "<line x1=\"\(left)\" y1=\"\(yy)\" x2=\"\(width - right)\" y2=\"\(yy)\" stroke=\"#e5e5e5\"/>\n"
            svg += "<text x=\"\(left - 8)\" y=\"\(yy + 4)\" text-anchor=\"end\">\(String(format: "%.1f", fraction))</text>\n"
            svg += "<text x=\"\(width - right + 8)\" y=\"\(yy + 4)\">\(String(format: "%.2f", fraction * lossMax))</text>\n"
        }
        let step = max(1, Int((lastRound - firstRound) / 10))
        for round in stride(from: Int(firstRound), through: Int(lastRound), by: step) {
            svg += "<text x=\"\(x(round))\" y=\"\(top + plotHeight + 18)\" text-anchor=\"middle\">\(round)</text>\n"
        }
        svg += """
            <rect x="\(left)" y="\(top)" width="\(plotWidth)" height="\(plotHeight)" fill="none" stroke="#888"/>
            <text x="\(left + plotWidth / 2)" y="\(top + plotHeight + 38)" text-anchor="middle">round</text>
            <text transform="translate(18 \(top + plotHeight / 2)) rotate(-90)" text-anchor="middle">accuracy</text>
            <text transform="translate(\(width - 14) \(top + plotHeight / 2)) rotate(90)" text-anchor="middle">loss</text>

            """
        for (index, line) in series.enumerated() where !line.points.isEmpty {
            let path = line.points.map { "\(x($0.round)),\(y($0.value, loss: line.onLossAxis))" }.joined(separator: " ")
            let dash = line.dashed ? " stroke-dasharray=\"6 4\"" : ""
            svg += "<polyline fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\"\(dash) points=\"\(path)\"/>\n"
            let legendX = left + Double(index % 3) * 220
            let legendY = height - 30 + Double(index / 3) * 18
            svg += "<line x1=\"\(legendX)\" y1=\"\(legendY - 4)\" x2=\"\(legendX + 24)\" y2=\"\(legendY - 4)\" stroke=\"\(line.color)\" stroke-width=\"2\"\(dash)/>\n"
            svg += "<text x=\"\(legendX + 30)\" y=\"\(legendY)\">\(escape(line.name))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// The smallest of 1, 2 or 5 times a power of ten at or above `value`, so the loss axis has round labels.
    private func niceCeiling(_ value: Double) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        let magnitude = pow(10, floor(log10(value)))
        for factor in [1.0, 2, 5, 10] where factor * magnitude >= value { return factor * magnitude }
        return 10 * magnitude
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
