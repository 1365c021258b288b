/** What other folders use of notifications: the server's wiring and the resolver. */
export { NotificationDispatcher, startNotificationDispatcher } from "./dispatcher";
export { NotificationChannelResolver, NotificationDeliveryResolver } from "./notification.resolver";
export { NotificationEvents, NotificationService } from "./notification.service";
