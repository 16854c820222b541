/// How Flower names the app bundle a Pollen SuperLink serves for runs of its built-in apps (`get-run`'s `fab_id`
/// and `fab_version`), by which a node tells such a run from a run of a researcher's own Flower app.
public enum BuiltInAppsBundle {
    /// `publisher/name`.
    public static let id = "pollen/pollenapps"
    public static let version = "1.0.0"

    /// Whether `run` is of a researcher's Flower App Bundle rather than of Pollen's built-in apps.
    public static func isFlowerApp(_ run: Flwr_Proto_Run) -> Bool {
        !run.fabID.isEmpty && run.fabID != id
    }
}
