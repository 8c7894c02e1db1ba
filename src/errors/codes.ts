/**
 * Every stable error code Rekey answers with, its HTTP status and its default message.
 * A code is never renamed once shipped; add a new one instead.
 */
export const ERROR_CODES = {
  // request shape
  invalid_request_parameters: { status: 422, message: 'The request parameters are invalid.' },
  invalid_json: { status: 400, message: 'The request body is not valid JSON.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'The request content type is not supported.' },
  not_found: { status: 404, message: 'No such route.' },
  method_not_allowed: { status: 405, message: 'Method not allowed.' },
  // authentication of the caller
  unauthorized: { status: 401, message: 'A valid secret key is required.' },
  invalid_client: { status: 401, message: 'Unknown client id or secret.' },
  invalid_credentials: { status: 400, message: 'Invalid email or password.' },
  invalid_grant: { status: 400, message: 'The refresh token is invalid or has been revoked.' },
  session_invalid: { status: 401, message: 'The session is not active.' },
  user_disabled: { status: 403, message: 'This account is disabled.' },
  // entities
  entity_not_found: { status: 404, message: 'Not found.' },
  user_not_found: { status: 404, message: 'User not found.' },
  session_not_found: { status: 404, message: 'Session not found.' },
  password_reset_not_found: { status: 404, message: 'Password reset not found.' },
  application_not_found: { status: 404, message: 'Application not found.' },
  application_setting_invalid: { status: 422, message: 'An application setting is invalid.' },
  application_is_default: { status: 409, message: 'The default application cannot be deleted.' },
  application_has_active_keys: { status: 409, message: 'The application has secret keys that are not revoked. Revoke them first.' },
  delivery_not_found: { status: 404, message: 'Delivery not found.' },
  delivery_not_dead: { status: 409, message: 'Only a dead delivery can be retried.' },
  delivery_not_replayable: { status: 409, message: 'This delivery cannot be retried.' },
  email_already_exists: { status: 409, message: 'A user with this email already exists.' },
  // password policy (SECURITY.md F); each names the rule that failed
  password_too_short: { status: 400, message: 'The password is too short.' },
  password_too_long: { status: 400, message: 'The password is too long.' },
  password_common: { status: 400, message: 'This password is too common; choose another.' },
  password_breached: { status: 400, message: 'This password appears in a list of breached passwords.' },
  password_context: { status: 400, message: 'The password must not be built from your email address or the service name.' },
  password_invalid_characters: { status: 400, message: 'The password contains characters that cannot be used.' },
  password_and_password_hash_provided: { status: 400, message: 'Provide either password or password_hash, not both.' },
  invalid_password_hash: { status: 400, message: 'The password hash is not a supported PHC string.' },
  // resets; SEC-04: invalid, expired and used tokens share one code
  password_reset_token_invalid: { status: 400, message: 'The reset token is invalid, expired or already used.' },
  // browser flows (SECURITY.md A, D, G)
  flow_not_found: { status: 404, message: 'This reset request does not exist or has ended. Start again.' },
  flow_expired: { status: 410, message: 'This reset request has expired. Start again.' },
  flow_state_invalid: { status: 409, message: 'This step does not fit the current state of the reset.' },
  code_incorrect: { status: 422, message: 'That code is not correct.' },
  code_attempts_exceeded: { status: 429, message: 'Too many wrong codes. Request a new one.' },
  grant_invalid: { status: 403, message: 'The verification for this reset is missing, expired or already used.' },
  mfa_required: { status: 403, message: 'Confirm with your authenticator app first.' },
  mfa_challenge: { status: 403, message: 'A second factor is required to sign in.' },
  totp_incorrect: { status: 422, message: 'That authenticator code is not correct.' },
  totp_attempts_exceeded: { status: 429, message: 'Too many wrong authenticator codes. Try again later.' },
  flow_denied: { status: 403, message: 'This reset cannot be completed. Contact the support of the service if you need help.' },
  action_state_invalid: { status: 400, message: 'This link to continue the reset is invalid, expired or already used.' },
  action_pending: { status: 409, message: 'This reset waits for a step in the browser: continue it through the reset flow API or the hosted pages.' },
  // second factors (issue 12)
  factor_incorrect: { status: 422, message: 'That answer to the second factor is not correct.' },
  factor_not_enrolled: { status: 409, message: 'The account has no factor of this type.' },
  factor_unavailable: { status: 503, message: 'This factor cannot be used on this server: nothing is configured to deliver its codes.' },
  phone_number_invalid: { status: 422, message: 'The phone number must be in E.164 form, like +14155550123.' },
  webauthn_registration_failed: { status: 400, message: 'The security key or passkey could not be registered.' },
  enrollment_link_invalid: { status: 400, message: 'The enrollment link is invalid, expired or already used.' },
  csrf_invalid: { status: 403, message: 'The form has expired or did not come from this site. Reload the page and try again.' },
  cross_origin_forbidden: { status: 403, message: 'Cross-origin requests are not allowed here.' },
  // notifications: subscribers and their preferences (Novu-compatible API)
  invalid_subscriber_id: { status: 422, message: 'The subscriber id must be 1–128 characters: letters, digits and _ - . @ : + = |.' },
  invalid_phone: { status: 422, message: 'The phone number must be in E.164 form, such as +14155550123.' },
  subscriber_not_found: { status: 404, message: 'Subscriber not found.' },
  subscriber_already_exists: { status: 409, message: 'A subscriber with this id already exists.' },
  workflow_not_found: { status: 404, message: 'Workflow not found.' },
  workflow_critical: { status: 422, message: 'This workflow is critical: it always sends, so its preferences cannot be changed.' },
  workflow_already_exists: { status: 409, message: 'A workflow with this id already exists.' },
  workflow_invalid: { status: 422, message: 'The workflow definition is invalid.' },
  workflow_template_invalid: { status: 422, message: 'A template of the workflow does not parse.' },
  workflow_payload_invalid: { status: 400, message: 'The payload does not fit the workflow.' },
  workflow_builtin_steps: { status: 422, message: 'The steps of a built-in workflow cannot change; only their content can.' },
  workflow_step_not_found: { status: 404, message: 'The workflow has no step with this id.' },
  workflow_read_only: { status: 403, message: 'This workflow is defined in rekey.config.json: change it there, not over the API.' },
  workflow_builtin_not_deletable: { status: 403, message: 'A built-in workflow cannot be deleted; its content can be changed with an update.' },
  workflow_sync_not_supported: {
    status: 422,
    message: 'Rekey has no environments to copy a workflow to: every application of a deployment runs the same workflows.',
  },
  trigger_recipients_invalid: { status: 422, message: 'The recipients of the trigger are invalid.' },
  trigger_too_many_recipients: { status: 422, message: 'A trigger has at most 100 recipients.' },
  trigger_too_many_events: { status: 422, message: 'A bulk trigger has at most 100 events.' },
  topics_not_supported: { status: 422, message: 'Topics are not supported: trigger subscribers by id.' },
  transaction_not_found: { status: 404, message: 'No trigger with this transaction id.' },
  notification_not_found: { status: 404, message: 'No notification with this id.' },
  idempotency_key_reused: { status: 422, message: 'This idempotency key was used for another request.' },
  // platform
  rate_limited: { status: 429, message: 'Too many requests. Try again later.' },
  service_unavailable: { status: 503, message: 'The service is not ready.' },
  server_busy: { status: 503, message: 'The server is busy. Try again shortly.' },
  dev_host_not_allowed: { status: 403, message: 'Development routes answer only on loopback names and the configured base URL’s host.' },
  internal_error: { status: 500, message: 'Something went wrong.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const PASSWORD_POLICY_CODES = [
  'password_too_short',
  'password_too_long',
  'password_common',
  'password_breached',
  'password_context',
  'password_invalid_characters',
] as const satisfies readonly ErrorCode[];
export type PasswordPolicyCode = (typeof PASSWORD_POLICY_CODES)[number];
