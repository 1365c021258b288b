/**
 * The rule for secret names, apart from the service so pure code (pipeline validation) can use
 * it without the database. Names look like environment variables: they often become one in a stage.
 */
export const SECRET_NAME = /^[A-Z][A-Z0-9_]{0,62}$/;
export const SECRET_NAME_RULE =
  "must be 1-63 characters of uppercase letters, digits and '_', starting with a letter (like an environment variable)";
