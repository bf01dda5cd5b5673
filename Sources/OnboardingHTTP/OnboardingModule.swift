import Core
import Hummingbird
import Logging
import Onboarding
import Postgres
import ServiceLifecycle
import Web

/// Creditor onboarding: the creditors (tenants), their contracts (mandates, fee schedules) and
/// their placements (upload, progress, rejects, acknowledgement, recall), with the placement
/// worker that merges what was uploaded, on every node.
public struct OnboardingModule: HTTPModule {
    public let name = "onboarding"

    /// How placement uploads are bounded on this node (`RELANCE_UPLOADS_*`,
    /// `RELANCE_MAX_PLACEMENT_BYTES`).
    public struct UploadLimits: Sendable {
        public var maxBytes: Int
        public var overall: Int
        public var perCreditor: Int
        public var minBytesPerSecond: Int
        public var rateWindow: Duration

        public init(maxBytes: Int, overall: Int, perCreditor: Int, minBytesPerSecond: Int, rateWindow: Duration) {
            self.maxBytes = maxBytes
            self.overall = overall
            self.perCreditor = perCreditor
            self.minBytesPerSecond = minBytesPerSecond
            self.rateWindow = rateWindow
        }
    }

    let creditors: CreditorDirectory
    let mandates: MandateBook
    let fees: FeeScheduleBook
    let placements: PlacementService
    let mappings: ColumnMappingBook
    let worker: PlacementWorker
    let uploads: UploadGate
    let limits: UploadLimits

    /// - Parameter placementMerged: called after each placement this node merged (the composition
    ///   root wakes assignment with it).
    public init(
        pool: PostgresPool, creditors: CreditorDirectory, limits: UploadLimits, logger: Logger,
        placementMerged: @escaping @Sendable () -> Void = {}
    ) {
        self.creditors = creditors
        self.mandates = MandateBook(pool: pool)
        self.fees = FeeScheduleBook(pool: pool)
        self.placements = PlacementService(pool: pool, maxBytes: limits.maxBytes)
        self.mappings = ColumnMappingBook(pool: pool)
        self.worker = PlacementWorker(placements: placements, logger: logger, merged: placementMerged)
        self.uploads = UploadGate(limits: .init(overall: limits.overall, perCreditor: limits.perCreditor))
        self.limits = limits
    }

    public func routes() -> ModuleRoutes {
        let routes = ModuleRoutes()
        CreditorRoutes(creditors: creditors).add(to: routes)
        ContractRoutes(mandates: mandates, fees: fees).add(to: routes)
        ColumnMappingRoutes(mappings: mappings).add(to: routes)
        PlacementRoutes(
            placements: placements, worker: worker, uploads: uploads,
            uploadPace: (limits.minBytesPerSecond, limits.rateWindow)
        ).add(to: routes)
        return routes
    }

    public var services: [any Service] { [worker] }
    /// Creditors and contracts; the debtors, cases and claims placement creates (their types and
    /// rules belong to `Portfolio`; the placement migration made their tables); the staging.
    public var migrations: [String] {
        [
            "0003_add_creditor_details_mandates_fees.sql", "0004_create_debtors_cases_placements.sql",
            "0005_streamline_placement_merge.sql", "0006_refresh_merge_statistics.sql",
            "0007_check_creditor_of_debtors_and_cases.sql", "0008_staging_without_insert_vacuum.sql",
            "0009_staging_indexed_by_placement.sql", "0010_placement_merged_status.sql",
            "0014_stage_placement_rows_behind_row_security.sql", "0016_column_mappings.sql",
        ]
    }
}

// Domain types stay free of HTTP; this module declares how they are sent.
extension CreditorDirectory.Creditor: ResponseEncodable {}
extension MandateBook.Mandate: ResponseEncodable {}
extension FeeScheduleBook.Schedule: ResponseEncodable {}
extension PlacementService.Placement: ResponseEncodable {}
extension PlacementService.DryRun: ResponseEncodable {}
extension ColumnMappingBook.Saved: ResponseEncodable {}
