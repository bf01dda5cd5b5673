import Hummingbird
import Identity
import Onboarding

// Domain types stay free of HTTP; the App module declares how they are sent.
extension UserDirectory.User: ResponseEncodable {}
extension UserDirectory.APIKey: ResponseEncodable {}
extension CreditorDirectory.Creditor: ResponseEncodable {}
extension MandateBook.Mandate: ResponseEncodable {}
extension FeeScheduleBook.Schedule: ResponseEncodable {}
extension PlacementService.Placement: ResponseEncodable {}
