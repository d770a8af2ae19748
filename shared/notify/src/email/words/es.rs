//! Customer mail's own words in Spanish.

use super::Words;

pub(super) static WORDS: Words = Words {
    why: "Recibe este correo porque se suscribió a los avisos de estado de {brand}.",
    why_confirm: "Recibe este correo porque alguien pidió los avisos de estado de {brand} en esta dirección; no le enviaremos nada más si no se confirma.",
    manage: "Elegir de qué servicios recibir avisos",
    unsubscribe: "Darse de baja",
    status_page: "Página de estado",
    confirm: "Confirmar la suscripción",
    confirm_subject: "Confirme su suscripción a los avisos de {brand}",
    confirm_body: "Hola:\n\nAlguien (esperamos que usted) pidió recibir en esta dirección los avisos de estado de {brand} sobre: {list}.\n\nPara empezar a recibirlos, confirme la suscripción con el enlace de abajo. Si no fue usted, ignore este correo: no le enviaremos nada más.",
};
