export { renderEex, TemplateError, type Bindings } from './eex';
export {
  renderTemplates,
  renderTemplate,
  templatePlan,
  type RenderInput,
  type RenderResult,
  type TemplateOutcome,
  type TemplatePlanEntry,
} from './render';
