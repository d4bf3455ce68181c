export { askTeacher, type TeacherClient, type TeacherMode, type TeacherRequestOptions } from './types.js';
export { SimulatedTeacher, type SimulatedErrorKind, type SimulatedTeacherOptions } from './simulated.js';
