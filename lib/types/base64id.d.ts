declare module "base64id" {
  export function generateId(): string;
}
