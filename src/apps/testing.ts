// For other modules' tests: the application service alone, without the module's routes and start-up.
export { createApplicationService } from './app.service.ts';
