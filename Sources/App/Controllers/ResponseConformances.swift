import Hummingbird
import Onboarding

// Domain types stay free of HTTP; the App module declares how they are sent.
extension CreditorDirectory.Creditor: ResponseEncodable {}
extension MandateBook.Mandate: ResponseEncodable {}
extension FeeScheduleBook.Schedule: ResponseEncodable {}
extension PlacementService.Placement: ResponseEncodable {}
